/**
 * Direct writes keep the invariants (issue 8): POST and DELETE /v1/relationships are judged on
 * the state they would leave, refused with the invariant's 409, atomically (the state judged
 * is pinned in the write).
 */
import t, { type Test } from 'tap'
import { buildTestApp, type TestApp } from '../../helpers/app.js'
import { post, seed } from '../../helpers/http.js'
import { snapshot } from '../../helpers/events.js'

const COACHES = Array.from({ length: 40 }, (_, i) => `k${i}`)

const ORG = [
  'organization:acme#owner@user:olga',
  'organization:acme#admin@user:al',
  'organization:acme#coach@user:rob',
  'organization:acme#coach@user:john',
  'organization:acme#author@user:ann',
  'organization:acme#member@user:mo',
  'client:c1#organization@organization:acme',
  'client:c1#primary@user:rob',
  'client:c1#coaching@user:john',
  'course:k1#organization@organization:acme',
  'course:k1#owner@user:ann',
  'program:p1#organization@organization:acme',
  'program:p1#facilitator@user:fay',
  'organization:globex#owner@user:gus',
  'group:g2#organization@organization:globex',
]

const write = (app: TestApp, ...updates: [string, string][]) =>
  post(app, '/v1/relationships', { updates: updates.map(([operation, relationship]) => ({ operation, relationship })) })

const del = (app: TestApp, filter: Record<string, string>) => app.inject({ method: 'DELETE', url: '/v1/relationships', payload: { filter } })

async function refusedWith(t: Test, app: TestApp, res: Promise<{ status: number; body: any }>, code: string) {
  const before = await snapshot(app)
  const r = await res
  t.equal(r.status, 409, `${code}: ${JSON.stringify(r.body)}`)
  t.equal(r.body.code, code)
  t.same(await snapshot(app), before, 'nothing changed')
}

async function app(t: Test) {
  const a = await buildTestApp(t)
  await seed(a, ORG)
  return a
}

t.test('I1: a second primary coach, or none, is refused; replacing the primary in one write is not', async (t) => {
  const a = await app(t)
  const before = await snapshot(a)
  const second = await write(a, ['touch', 'client:c1#primary@user:john'])
  t.equal(second.status, 409)
  t.equal(second.body.code, 'GW_PRIMARY_REQUIRED')
  t.same(await snapshot(a), before)
  await refusedWith(t, a, write(a, ['delete', 'client:c1#primary@user:rob']), 'GW_PRIMARY_REQUIRED')
  const d = await del(a, { resource: 'client:c1', relation: 'primary' })
  t.equal(d.statusCode, 409, 'delete by filter of the only primary')
  t.equal(d.json().code, 'GW_PRIMARY_REQUIRED')
  await refusedWith(t, a, write(a, ['touch', 'client:c9#organization@organization:acme']), 'GW_PRIMARY_REQUIRED')
  t.equal((await write(a, ['delete', 'client:c1#primary@user:rob'], ['touch', 'client:c1#primary@user:john'])).status, 200, 'replaced in one write')
  t.equal(
    (await write(a, ['touch', 'client:c9#organization@organization:acme'], ['touch', 'client:c9#primary@user:rob'])).status,
    200,
    'created with its primary',
  )
  // Deleting the whole client (everything it has) leaves no client to need a primary.
  const gone = await del(a, { resource: 'client:c1' })
  t.equal(gone.statusCode, 200, gone.body)
  t.equal(gone.json().count, 3)
})

t.test('I2/I3: one owner, with no other role; the owner is not deleted, ownership moves in one write', async (t) => {
  const a = await app(t)
  await refusedWith(t, a, write(a, ['touch', 'organization:acme#owner@user:al']), 'GW_OWNER_TRANSFER_ONLY')
  await refusedWith(t, a, write(a, ['touch', 'organization:acme#admin@user:olga']), 'GW_OWNER_TRANSFER_ONLY')
  await refusedWith(t, a, write(a, ['delete', 'organization:acme#owner@user:olga']), 'GW_OWNER_UNTOUCHABLE')
  const d = await del(a, { resource: 'organization:acme', relation: 'owner' })
  t.equal(d.statusCode, 409)
  t.equal(d.json().code, 'GW_OWNER_UNTOUCHABLE')
  const all = await del(a, { resourceType: 'organization', relation: 'owner' })
  t.equal(all.json().code, 'GW_OWNER_UNTOUCHABLE', 'nor by type')
  const transfer = await write(
    a,
    ['delete', 'organization:acme#owner@user:olga'],
    ['touch', 'organization:acme#admin@user:olga'],
    ['delete', 'organization:acme#admin@user:al'],
    ['touch', 'organization:acme#owner@user:al'],
  )
  t.equal(transfer.status, 200, JSON.stringify(transfer.body))
})

t.test('I4: one organization role and one program role per person; a replacement in one write is fine', async (t) => {
  const a = await app(t)
  await refusedWith(t, a, write(a, ['touch', 'organization:acme#admin@user:ann']), 'GW_ONE_ROLE')
  await refusedWith(t, a, write(a, ['touch', 'program:p1#participant@user:fay']), 'GW_ONE_ROLE')
  t.equal((await write(a, ['delete', 'organization:acme#member@user:mo'], ['touch', 'organization:acme#admin@user:mo'])).status, 200)
  t.equal((await write(a, ['delete', 'program:p1#facilitator@user:fay'], ['touch', 'program:p1#tutor@user:fay'])).status, 200)
  t.equal((await write(a, ['touch', 'program:p1#grant_view_class_list@user:fay'])).status, 200, 'grants are not roles')
})

t.test('I5: only coaches or the owner are paired; a paired coach keeps the coach role', async (t) => {
  const a = await app(t)
  await refusedWith(t, a, write(a, ['touch', 'client:c1#view_only@user:al']), 'GW_NOT_PAIRABLE')
  await refusedWith(t, a, write(a, ['touch', 'client:c1#coaching@user:gus']), 'GW_NOT_PAIRABLE')
  await refusedWith(t, a, write(a, ['touch', 'client:zz#coaching@user:rob']), 'GW_NOT_PAIRABLE')
  await refusedWith(
    t,
    a,
    write(a, ['delete', 'organization:acme#coach@user:rob'], ['touch', 'organization:acme#member@user:rob']),
    'GW_PRIMARY_COACH_OF_CLIENTS',
  )
  await refusedWith(t, a, write(a, ['delete', 'organization:acme#coach@user:john']), 'GW_NOT_PAIRABLE')
  const coaches = await del(a, { resource: 'organization:acme', relation: 'coach' })
  t.equal(coaches.statusCode, 409, 'deleting every coach by filter')
  t.match(coaches.json().code, /^(GW_PRIMARY_COACH_OF_CLIENTS|GW_NOT_PAIRABLE)$/)
  t.equal(
    (await write(a, ['delete', 'organization:acme#coach@user:john'], ['delete', 'client:c1#coaching@user:john'])).status,
    200,
    'unpaired in the same write',
  )
  t.equal((await write(a, ['touch', 'client:c1#view_only@user:olga'])).status, 200, 'the owner is pairable')
  t.equal(
    (await write(a, ['touch', 'organization:acme#coach@user:al2'], ['touch', 'client:c1#coaching@user:al2'])).status,
    200,
    'made a coach in the same write',
  )
})

t.test('I6 and I7: co-authors are authors, admins or the owner; groups stay in their organization', async (t) => {
  const a = await app(t)
  await refusedWith(t, a, write(a, ['touch', 'course:k1#co_author@user:rob']), 'GW_NOT_CO_AUTHOR_ELIGIBLE')
  await refusedWith(t, a, write(a, ['touch', 'course:nope#co_author@user:al']), 'GW_NOT_CO_AUTHOR_ELIGIBLE')
  t.equal((await write(a, ['touch', 'course:k1#co_author@user:al'])).status, 200)
  await refusedWith(t, a, write(a, ['touch', 'program:p1#assigned_group@group:g2']), 'GW_CROSS_ORGANIZATION')
  t.equal((await write(a, ['touch', 'group:g1#organization@organization:acme'], ['touch', 'program:p1#assigned_group@group:g1'])).status, 200)
})

t.test('relations no invariant governs are written and deleted as before', async (t) => {
  const a = await app(t)
  t.equal((await write(a, ['touch', 'user:u1#manager@user:boss'], ['touch', 'organization:acme#view_all_clients@user:vic'])).status, 200)
  const d = await del(a, { resourceType: 'user' })
  t.equal(d.statusCode, 200)
  t.equal(d.json().count, 1)
  const c = await del(a, { resource: 'course:k1', relation: 'owner' })
  t.equal(c.statusCode, 200)
})

t.test('race: 40 concurrent direct writes each replacing the primary leave exactly one primary', async (t) => {
  const a = await app(t)
  await seed(
    a,
    COACHES.map((c) => `organization:acme#coach@user:${c}`),
  )
  const answers = await Promise.all(COACHES.map((c) => write(a, ['delete', 'client:c1#primary@user:rob'], ['touch', `client:c1#primary@user:${c}`])))
  const statuses = answers.map((r) => r.status)
  t.ok(
    statuses.every((s) => s === 200 || s === 409),
    `200 or 409 only: ${[...new Set(statuses)]}`,
  )
  const primaries = (await a.engine.readRelationships({ resourceType: 'client', resourceId: 'c1', relation: 'primary' }, {}, { mode: 'fully_consistent' }))
    .relationships
  t.comment(`${statuses.filter((s) => s === 200).length} applied, ${primaries.length} primaries left`)
  t.equal(primaries.length, 1, 'exactly one primary (I1)')
  t.equal(statuses.filter((s) => s === 200).length, 1, 'one replacement applied, the others judged again and refused')
})
