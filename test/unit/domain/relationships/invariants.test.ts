/**
 * The invariants judge for direct writes (src/domain/relationships/invariants.ts, guardWrite):
 * each invariant it enforces, on a state held in memory. The reader below is only the judge's
 * data source (a relationship store answering filters); no permission is computed here.
 */
import t, { type Test } from 'tap'
import { guardWrite, isGoverned } from '../../../../src/domain/relationships/invariants.js'
import { GatewayError } from '../../../../src/domain/wire/errors.js'
import { parseRelationship, formatRelationship } from '../../../../src/domain/wire/refs.js'
import type { EnginePort, Relationship, RelationshipFilter, RelationshipUpdate } from '../../../../src/engine/port.js'

const rel = (text: string): Relationship => parseRelationship(text, 'r')
const touch = (text: string): RelationshipUpdate => ({ operation: 'touch', relationship: rel(text) })
const del = (text: string): RelationshipUpdate => ({ operation: 'delete', relationship: rel(text) })

function matches(f: RelationshipFilter, r: Relationship): boolean {
  if (r.resource.type !== f.resourceType) return false
  if (f.resourceId !== undefined && r.resource.id !== f.resourceId) return false
  if (f.relation !== undefined && r.relation !== f.relation) return false
  if (!f.subject) return true
  return r.subject.type === f.subject.type && r.subject.id === f.subject.id && (f.subject.relation === undefined || f.subject.relation === r.subject.relation)
}

/** relationships in memory, answering readRelationships by filter, two to a page */
function state(texts: string[]) {
  const rels = texts.map(rel)
  const reads: RelationshipFilter[] = []
  const engine = {
    async readRelationships(filter: RelationshipFilter, page: { limit?: number; cursor?: string }) {
      reads.push(filter)
      const all = rels.filter((r) => matches(filter, r))
      const from = Number(page.cursor ?? 0)
      const next = from + 2
      return { relationships: all.slice(from, next), cursor: next < all.length ? String(next) : undefined }
    },
  } as unknown as EnginePort
  return { engine, reads }
}

async function refused(t: Test, texts: string[], updates: RelationshipUpdate[], code: string, message?: RegExp) {
  const { engine } = state(texts)
  const err = await guardWrite(engine, updates).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.type(err, GatewayError, `${code}: refused`)
  const g = err as GatewayError
  t.equal(g?.code, code)
  t.equal(g?.statusCode, 409)
  if (message) t.match(g?.message, message)
  return g
}

async function allowed(t: Test, texts: string[], updates: RelationshipUpdate[]) {
  const { engine } = state(texts)
  return t.resolves(guardWrite(engine, updates), 'allowed').then(() => guardWrite(engine, updates))
}

// An organization with an owner, a coach, an author, a member and a client paired with the coach.
const ACME = [
  'organization:acme#owner@user:olivia',
  'organization:acme#coach@user:rob',
  'organization:acme#coach@user:rita',
  'organization:acme#author@user:alex',
  'organization:acme#member@user:mia',
  'organization:acme#admin@user:adam',
  'client:c1#organization@organization:acme',
  'client:c1#primary@user:rob',
  'client:c2#organization@organization:acme',
  'client:c2#primary@user:rita',
  'client:c2#coaching@user:rob',
  'course:k1#organization@organization:acme',
  'group:g1#organization@organization:acme',
  'group:gb#organization@organization:beta',
  'program:p1#organization@organization:acme',
  'program:p1#facilitator@user:ana',
]

t.test('writes no invariant governs are not judged and read nothing', async (t) => {
  const { engine, reads } = state(ACME)
  t.same(await guardWrite(engine, [touch('section:s1#release@program:p1'), touch('group:g1#member@user:mia')]), [])
  t.same(reads, [])
  t.equal(isGoverned(rel('client:c1#primary@user:rob')), true)
  t.equal(isGoverned(rel('client:c1#viewer@user:rob')), false)
  t.equal(isGoverned(rel('organization:acme#member@user:rob')), true)
  t.equal(isGoverned(rel('program:p1#assigned_group@group:g1')), true)
  t.equal(isGoverned(rel('course:k1#co_author@user:alex')), true)
  t.equal(isGoverned(rel('course:k1#owner@user:alex')), false)
  t.equal(isGoverned(rel('internal_guard:x#holder@user:a')), false, 'an unknown type')
})

t.test('I1: a client has exactly one primary coach', async (t) => {
  await refused(t, ACME, [touch('client:c1#primary@user:rita')], 'GW_PRIMARY_REQUIRED', /client:c1 would have 2 primary coaches.*\(I1\)/)
  await refused(t, ACME, [del('client:c1#primary@user:rob')], 'GW_PRIMARY_REQUIRED', /would have 0 primary/)
  await allowed(t, ACME, [del('client:c1#primary@user:rob'), touch('client:c1#primary@user:rita')])
  await allowed(t, ACME, [touch('client:c1#primary@user:rob')])
  // a client with no organization yet and no primary: nothing to keep yet
  await allowed(t, [], [del('client:new#coaching@user:x')])
  const g = await refused(t, ACME, [touch('client:c3#organization@organization:acme')], 'GW_PRIMARY_REQUIRED')
  t.same(g.details, { client: 'client:c3', primaries: [] }, 'a new client needs its primary in the same write')
  await allowed(t, ACME, [touch('client:c3#organization@organization:acme'), touch('client:c3#primary@user:rob')])
})

t.test('I5: only coaches or the owner are paired, and only with clients of an organization', async (t) => {
  await refused(t, ACME, [touch('client:c1#coaching@user:mia')], 'GW_NOT_PAIRABLE', /user:mia cannot be paired with clients of organization:acme/)
  await refused(t, ACME, [touch('client:c1#view_only@user:alex')], 'GW_NOT_PAIRABLE', /\(I5\)/)
  await refused(t, ACME, [touch('client:c1#coaching@user:adam')], 'GW_NOT_PAIRABLE', /adam/)
  await allowed(t, ACME, [touch('client:c1#coaching@user:rita')])
  await allowed(t, ACME, [touch('client:c1#view_only@user:olivia')])
  await allowed(t, ACME, [touch('client:c1#coaching@user:mia'), del('organization:acme#member@user:mia'), touch('organization:acme#coach@user:mia')])
  await refused(t, [], [touch('client:lone#coaching@user:rob')], 'GW_NOT_PAIRABLE', /belongs to no organization/)
  // an existing pairing is not judged again (it was judged when it was written)
  await allowed(t, [...ACME, 'client:c1#coaching@user:mia'], [del('client:c1#view_only@user:rob')])
})

t.test('I5: someone who stops being pairable keeps no pairing in that organization', async (t) => {
  await refused(
    t,
    ACME,
    [del('organization:acme#coach@user:rita'), touch('organization:acme#member@user:rita')],
    'GW_PRIMARY_COACH_OF_CLIENTS',
    /user:rita in organization:acme: they are the primary coach of client:c2/,
  )
  const g = await refused(t, ACME, [del('organization:acme#coach@user:rob'), touch('organization:acme#author@user:rob')], 'GW_PRIMARY_COACH_OF_CLIENTS')
  t.same(g.details?.clients, ['client:c1'], 'only where rob is primary (c2 is a coaching pairing)')
  const coached = [...ACME.filter((r) => r !== 'client:c1#primary@user:rob'), 'client:c1#primary@user:rita']
  const n = await refused(
    t,
    coached,
    [del('organization:acme#coach@user:rob')],
    'GW_NOT_PAIRABLE',
    /stop being a coach of organization:acme while paired with client:c2/,
  )
  t.same(n.details?.clients, ['client:c2'])
  await allowed(t, coached, [del('organization:acme#coach@user:rob'), del('client:c2#coaching@user:rob')])
  // pairings in another organization do not count
  const elsewhere = ['organization:acme#coach@user:rob', 'client:z#organization@organization:beta', 'client:z#coaching@user:rob']
  await allowed(t, elsewhere, [del('organization:acme#coach@user:rob')])
})

t.test('I2 and I3: one owner, who holds no other role and is not removed', async (t) => {
  await refused(
    t,
    ACME,
    [touch('organization:acme#owner@user:adam')],
    'GW_OWNER_TRANSFER_ONLY',
    /organization:acme would have 2 owners, user:olivia, user:adam/,
  )
  await refused(
    t,
    ACME,
    [del('organization:acme#owner@user:olivia')],
    'GW_OWNER_UNTOUCHABLE',
    /cannot delete the ownership of user:olivia: they own organization:acme \(I3\)/,
  )
  await refused(
    t,
    ACME,
    [touch('organization:acme#admin@user:olivia')],
    'GW_OWNER_TRANSFER_ONLY',
    /user:olivia is the owner of organization:acme and cannot also hold admin/,
  )
  // a transfer in one write: the old owner becomes an admin, the new one stops being one
  await allowed(t, ACME, [
    del('organization:acme#owner@user:olivia'),
    touch('organization:acme#admin@user:olivia'),
    del('organization:acme#admin@user:adam'),
    touch('organization:acme#owner@user:adam'),
  ])
  await allowed(t, [], [touch('organization:new#owner@user:nia')])
})

t.test('I4: one role in an organization, one in a program', async (t) => {
  await refused(
    t,
    ACME,
    [touch('organization:acme#admin@user:rob')],
    'GW_ONE_ROLE',
    /user:rob would hold "admin" and "coach" on organization:acme|user:rob would hold "coach" and "admin"/,
  )
  await allowed(t, ACME, [del('organization:acme#author@user:alex'), touch('organization:acme#admin@user:alex')])
  const g = await refused(t, ACME, [touch('program:p1#participant@user:ana')], 'GW_ONE_ROLE')
  t.same([...(g.details?.roles as string[])].sort(), ['facilitator', 'participant'])
  await allowed(t, ACME, [del('program:p1#facilitator@user:ana'), touch('program:p1#participant@user:ana')])
  await allowed(t, ACME, [touch('program:p1#participant@user:bea')])
  // a role held by a userset is not a person's role
  await allowed(t, ACME, [touch('organization:acme#admin@group:g1#member')])
})

t.test("I6: co-authors are authors, admins or the owner of the course's organization", async (t) => {
  await refused(
    t,
    ACME,
    [touch('course:k1#co_author@user:mia')],
    'GW_NOT_CO_AUTHOR_ELIGIBLE',
    /user:mia cannot co-author course:k1: only authors, admins or the owner of organization:acme/,
  )
  await refused(t, ACME, [touch('course:k1#co_author@user:rob')], 'GW_NOT_CO_AUTHOR_ELIGIBLE')
  await refused(t, ACME, [touch('course:k1#co_author@user:stranger')], 'GW_NOT_CO_AUTHOR_ELIGIBLE')
  for (const who of ['alex', 'adam', 'olivia']) await allowed(t, ACME, [touch(`course:k1#co_author@user:${who}`)])
  await refused(t, ACME, [touch('course:orphan#co_author@user:alex')], 'GW_NOT_CO_AUTHOR_ELIGIBLE', /write the course's organization first/)
  await allowed(t, ACME, [del('course:k1#co_author@user:mia')])
})

t.test('I7: a program is assigned groups of its own organization only', async (t) => {
  const g = await refused(
    t,
    ACME,
    [touch('program:p1#assigned_group@group:gb')],
    'GW_CROSS_ORGANIZATION',
    /program:p1 and group:gb belong to different organizations and cannot be linked \(I7\)/,
  )
  t.same(g.details, { objects: ['program:p1', 'group:gb'] })
  await allowed(t, ACME, [touch('program:p1#assigned_group@group:g1')])
  await allowed(t, ACME, [del('program:p1#assigned_group@group:gb')])
})

t.test('what the judgement read comes back as preconditions of the same write', async (t) => {
  const pre = await allowed(t, ACME, [touch('client:c1#coaching@user:rita')])
  const show = (p: { operation: string; filter: RelationshipFilter }) =>
    `${p.operation} ${p.filter.resourceType}:${p.filter.resourceId ?? '*'}#${p.filter.relation ?? '*'}@${p.filter.subject ? `${p.filter.subject.type}:${p.filter.subject.id}` : '*'}`
  const shown = pre.map(show)
  t.ok(shown.includes('must_match client:c1#organization@organization:acme'), "the client's organization stays")
  t.ok(shown.includes('must_match client:c1#primary@user:rob'), 'its primary stays')
  t.ok(
    shown.includes('must_not_match client:c1#coaching@*') && shown.includes('must_not_match client:c1#view_only@*'),
    'an empty governed relation stays empty',
  )
  t.ok(shown.includes('must_match organization:acme#coach@user:rita'), 'rita stays a coach')
  t.ok(shown.includes('must_not_match organization:acme#member@user:rita'), 'and gains no other role')
  const exact = pre.filter((p) => p.operation === 'must_match').map((p) => p.filter)
  t.ok(
    exact.every((f) => f.resourceId && f.relation && f.subject),
    'a must_match pins one relationship',
  )

  const fresh = await allowed(t, [], [touch('organization:new#owner@user:nia')])
  t.same(
    fresh.map(show).sort(),
    ['must_not_match organization:new#*@user:nia', 'must_not_match organization:new#owner@*'].sort(),
    'nothing there: one pin per scope read',
  )
  t.ok(formatRelationship(rel('client:c1#primary@user:rob')))
})
