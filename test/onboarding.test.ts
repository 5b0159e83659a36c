/**
 * Onboarding and backup (issue 22): export, import into a fresh gateway, export again gives
 * the same relationships and the same check answers; an import breaking an invariant writes
 * nothing and names the line; reconcile lists exactly the drift and apply removes it; writes
 * are refused while an import runs.
 */
import t from 'tap'
import { buildTestApp, type TestApp } from './helpers/app.js'
import { ev } from './helpers/events.js'

const ORGS = 10
const CLIENTS = 5

function business(): object[] {
  const events: object[] = []
  for (let o = 0; o < ORGS; o++) {
    events.push(ev('organization.created', { organizationId: `o${o}`, ownerId: `o${o}-owner` }))
    for (const k of [0, 1]) events.push(ev('organization.member_added', { organizationId: `o${o}`, userId: `o${o}-k${k}`, role: 'coach' }))
    for (let c = 0; c < CLIENTS; c++) {
      events.push(ev('client.created', { clientId: `o${o}-c${c}`, organizationId: `o${o}`, primaryCoachId: `o${o}-k${c % 2}`, userId: `o${o}-u${c}` }))
    }
  }
  return events
}

const exportBody = async (app: TestApp) => {
  const res = await app.inject({ method: 'GET', url: '/v1/export' })
  return { status: res.statusCode, type: res.headers['content-type'], lines: res.body.trim().split('\n') }
}
const relationshipsOf = (lines: string[]) => lines.slice(0, -1).sort()
const importBody = (app: TestApp, body: string) =>
  app.inject({ method: 'POST', url: '/v1/import', headers: { 'content-type': 'application/x-ndjson' }, payload: body })

async function seed(app: TestApp, events: object[]) {
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: { events } })
  if (res.statusCode !== 200) throw new Error(res.body)
}

async function check(app: TestApp, resource: string, permission: string, subject: string) {
  const res = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource, permission, subject } })
  return res.json().allowed as boolean
}

t.test('round trip: export, import into a fresh gateway, export again', async (t) => {
  const a = await buildTestApp(t)
  await seed(a, business())
  const first = await exportBody(a)
  t.equal(first.status, 200)
  t.match(first.type, /application\/x-ndjson/)
  const end = JSON.parse(first.lines.at(-1)!)
  t.equal(end.count, first.lines.length - 1, 'the end line counts the lines')
  t.ok(end.exportedAt)
  t.notOk(first.lines.some((l) => l.includes('internal_')), 'no internal guard relationships')

  const b = await buildTestApp(t)
  const res = await importBody(b, first.lines.join('\n') + '\n')
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), { count: end.count, changed: end.count })
  const second = await exportBody(b)
  t.same(relationshipsOf(second.lines), relationshipsOf(first.lines), 'the same relationships')
  for (const [resource, permission, subject] of [
    ['client:o3-c1', 'view', 'user:o3-k1'],
    ['client:o3-c1', 'view', 'user:o4-k1'],
    ['organization:o2', 'manage_admin_privileges', 'user:o2-owner'],
    ['client:o0-c0', 'delete', 'user:o0-k0'],
  ] as const) {
    t.equal(await check(b, resource, permission, subject), await check(a, resource, permission, subject), `${resource} ${permission} ${subject}`)
  }

  // into a live engine: a merge that says what changed
  const again = await importBody(b, [...first.lines.slice(0, -1), '{"relationship":"organization:o1#coach@user:newbie"}'].join('\n'))
  t.equal(again.statusCode, 200, again.body)
  t.match(again.json(), { count: end.count + 1, changed: 1 })

  const filtered = await app(a, '/v1/export?types=organization')
  t.ok(filtered.every((l) => l.startsWith('{"relationship":"organization:') || l.startsWith('{"exportedAt"')))
  t.equal((await a.inject({ method: 'GET', url: '/v1/export?types=internal_guard' })).statusCode, 400)
})

async function app(a: TestApp, url: string) {
  return (await a.inject({ method: 'GET', url })).body.trim().split('\n')
}

t.test('an import that breaks an invariant writes nothing and names the line', async (t) => {
  const a = await buildTestApp(t)
  const lines = [
    '{"relationship":"organization:acme#owner@user:olga"}',
    '{"relationship":"organization:acme#coach@user:rob"}',
    '{"relationship":"organization:acme#coach@user:john"}',
    '{"relationship":"client:c1#organization@organization:acme"}',
    '{"relationship":"client:c1#primary@user:rob"}',
    '{"relationship":"client:c1#primary@user:john"}',
    '{"relationship":"client:c2#coaching@user:rob"}',
  ]
  const res = await importBody(a, lines.join('\n'))
  t.equal(res.statusCode, 409, res.body)
  const body = res.json()
  t.equal(body.code, 'GW_IMPORT_INVARIANT')
  t.same(body.details.violations.map((v: { line: number }) => v.line), [6, 7], 'the second primary and the client of no organization')
  t.equal(relationshipsOf((await exportBody(a)).lines).length, 0, 'nothing written')

  const bad = await importBody(a, `${lines[0]}\nnot json\n`)
  t.equal(bad.statusCode, 400)
  t.match(bad.json().message, /line 2/)
  const internal = await importBody(a, '{"relationship":"internal_guard:x#version@internal_guard:y"}\n')
  t.equal(internal.statusCode, 400)
  t.match(internal.json().message, /line 1.*internal/)
})

t.test('reconcile lists the drift exactly; apply removes it', async (t) => {
  const a = await buildTestApp(t)
  const truth = business()
  const dropped = truth.findIndex((e) => (e as { type: string }).type === 'client.created')
  await seed(a, truth.filter((_, i) => i !== dropped))
  const grant = await a.inject({ method: 'POST', url: '/v1/relationships', payload: { updates: [{ operation: 'touch', relationship: 'organization:o5#view_all_clients@user:o5-k0' }] } })
  t.equal(grant.statusCode, 200, grant.body)

  const dry = await a.inject({ method: 'POST', url: '/v1/reconcile', payload: { events: truth } })
  t.equal(dry.statusCode, 200, dry.body)
  const diff = dry.json()
  t.same(diff.extra, [{ object: 'organization:o5', relationships: [{ relationship: 'organization:o5#view_all_clients@user:o5-k0' }] }])
  t.same(diff.missing.map((m: { object: string }) => m.object).sort(), ['client:o0-c0'])
  const droppedId = (truth[dropped] as { id: string }).id
  t.ok(diff.missing[0].relationships.every((r: { events: string[] }) => r.events.includes(droppedId)), 'the dropped event explains each missing line')
  t.notOk(JSON.stringify(diff).includes('internal_'), 'guards are not compared')

  const applied = await a.inject({ method: 'POST', url: '/v1/reconcile', payload: { events: truth, apply: true } })
  t.equal(applied.statusCode, 200, applied.body)
  t.ok(applied.json().applied)
  const after = await a.inject({ method: 'POST', url: '/v1/reconcile', payload: { events: truth } })
  t.match(after.json(), { missing: [], extra: [], counts: { missing: 0, extra: 0 } })
  const audit = await a.inject({ method: 'GET', url: '/v1/audit' })
  t.ok(JSON.stringify(audit.json()).includes('"source":"reconcile"'), 'one audit record for the applied reconcile')
})

t.test('writes are refused with 503 while an import runs', async (t) => {
  const a = await buildTestApp(t)
  let release!: () => void
  const held = new Promise<void>((r) => (release = r))
  const importing = a.importGate.exclusive('import', () => held)
  const write = await a.inject({ method: 'POST', url: '/v1/relationships', payload: { updates: [{ operation: 'touch', relationship: 'organization:x#owner@user:y' }] } })
  t.equal(write.statusCode, 503)
  t.equal(write.json().code, 'GW_IMPORT_RUNNING')
  const event = await a.inject({ method: 'POST', url: '/v1/events', payload: ev('organization.created', { organizationId: 'x', ownerId: 'y' }) })
  t.equal(event.statusCode, 503)
  const other = await importBody(a, '{"relationship":"organization:x#owner@user:y"}\n')
  t.equal(other.statusCode, 503)
  release()
  await importing
  t.equal((await a.inject({ method: 'POST', url: '/v1/events', payload: ev('organization.created', { organizationId: 'x', ownerId: 'y' }) })).statusCode, 200)
})
