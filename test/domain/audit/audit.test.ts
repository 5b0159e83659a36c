import t from 'tap'
import { buildTestApp, type TestApp } from '../../helpers/app.js'
import { ev, seedOrg } from '../../helpers/events.js'

const KEYS = { ops: 'ops-key-0123456789abcdef', platform: 'platform-key-0123456789abcdef', auditor: 'auditor-key-0123456789abcdef' }
const apiKeys = [`ops:${KEYS.ops}:write+events`, `platform:${KEYS.platform}`, `auditor:${KEYS.auditor}:audit`]
const as = (name: keyof typeof KEYS) => ({ authorization: `Bearer ${KEYS[name]}` })

interface Rec {
  id: string
  at: string
  keyName?: string
  source: string
  event?: { id: string; type: string; actor?: string }
  changes: { operation: string; relationship: string }[]
  deleteFilter?: string
  deletedCount?: number
  zedToken: string
}

async function trail(app: TestApp, query = ''): Promise<Rec[]> {
  const all: Rec[] = []
  let cursor: string | undefined
  for (let page = 0; page < 100; page++) {
    const res = await app.inject({ method: 'GET', url: `/v1/audit?limit=1000${query}${cursor ? `&cursor=${cursor}` : ''}`, headers: as('auditor') })
    if (res.statusCode !== 200) throw new Error(res.body)
    const body = res.json() as { records: Rec[]; cursor?: string }
    all.push(...body.records)
    if (!body.cursor) return all
    cursor = body.cursor
  }
  throw new Error('trail did not end')
}

const events = (app: TestApp, key: keyof typeof KEYS, payload: object) => app.inject({ method: 'POST', url: '/v1/events', headers: as(key), payload })

t.test('every write door leaves exactly one record with who, what and the ZedToken', async (t) => {
  const app = await buildTestApp(t, { overrides: { apiKeys } })
  const seeded = await events(app, 'platform', {
    events: [
      ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' }),
      ev('organization.member_added', { organizationId: 'acme', userId: 'rob', role: 'coach' }),
      ev('organization.member_added', { organizationId: 'acme', userId: 'cara', role: 'coach' }),
      // a coach: /v1/relationships only pairs coaches with clients (I5)
      ev('organization.member_added', { organizationId: 'acme', userId: 'vic', role: 'coach' }),
    ],
  })
  t.equal(seeded.statusCode, 200)
  const created = ev('client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'rob' }, 'user:olivia')
  const one = await events(app, 'ops', created)
  t.equal(one.statusCode, 200, one.body)
  t.equal((await events(app, 'ops', created)).json().results[0].status, 'duplicate')
  const promote = ev('pairing.set', { clientId: 'cassandra', coachId: 'cara', level: 'primary' }, 'user:olivia')
  t.equal((await events(app, 'ops', promote)).statusCode, 200)
  const refused = await events(app, 'ops', ev('pairing.set', { clientId: 'cassandra', coachId: 'rob', level: 'primary' }, 'user:rob'))
  t.equal(refused.statusCode, 403, 'a refused event writes nothing')

  const written = await app.inject({
    method: 'POST',
    url: '/v1/relationships',
    headers: as('ops'),
    payload: { updates: [{ operation: 'touch', relationship: 'client:cassandra#view_only@user:vic' }] },
  })
  t.equal(written.statusCode, 200, written.body)
  const deleted = await app.inject({
    method: 'DELETE',
    url: '/v1/relationships',
    headers: as('ops'),
    payload: { filter: { resource: 'client:cassandra', relation: 'view_only' } },
  })
  t.equal(deleted.statusCode, 200)
  const none = await app.inject({ method: 'DELETE', url: '/v1/relationships', headers: as('ops'), payload: { filter: { resource: 'client:nobody' } } })
  t.equal(none.json().count, 0, 'a delete that matched nothing changed nothing')

  const all = await trail(app)
  t.equal(all.length, 4 + 2 + 2, 'four seeding events, two applied events, one write, one delete')
  t.notMatch(JSON.stringify(all), /key-0123456789abcdef/, 'no key appears in the trail')

  const about = await trail(app, '&object=client:cassandra')
  t.same(
    about.map((r) => r.event?.type ?? r.source),
    ['client.created', 'pairing.set', 'relationships', 'relationships'],
  )
  const [c, p, w, d] = about as [Rec, Rec, Rec, Rec]
  t.match(c, {
    keyName: 'ops',
    source: 'rest',
    event: { id: created.id, type: 'client.created', actor: 'user:olivia' },
    zedToken: one.json().results[0].writtenAt,
  })
  t.ok(
    c.changes.some((x) => x.relationship === 'client:cassandra#primary@user:rob'),
    'the primary written',
  )
  t.ok(
    p.changes.some((x) => x.operation === 'delete' && x.relationship === 'client:cassandra#primary@user:rob'),
    'the old primary deleted',
  )
  t.ok(
    p.changes.some((x) => x.relationship === 'client:cassandra#coaching@user:rob'),
    'and demoted to coaching (I1)',
  )
  t.match(w, {
    keyName: 'ops',
    source: 'relationships',
    changes: [{ operation: 'touch', relationship: 'client:cassandra#view_only@user:vic' }],
    zedToken: written.json().writtenAt,
  })
  // pairings are governed (I1, I5): the delete by filter is judged and written as exactly the
  // relationships it matched, so its record lists them (a plain delete also names the filter)
  t.match(d, { keyName: 'ops', source: 'relationships', zedToken: deleted.json().deletedAt })
  t.same(d.changes, [{ operation: 'delete', relationship: 'client:cassandra#view_only@user:vic' }])

  const rob = await trail(app, '&subject=user:rob')
  t.same(
    rob.map((r) => r.event?.type),
    ['organization.member_added', 'client.created', 'pairing.set'],
  )
  t.same(
    (await trail(app, '&actor=user:olivia')).map((r) => r.event?.type),
    ['client.created', 'pairing.set'],
  )
  t.equal((await trail(app, '&key=platform')).length, 4)

  const later = await trail(app, `&since=${encodeURIComponent(w.at)}`)
  t.ok(later.length >= 2 && later.every((r) => r.at >= w.at), 'since')
  t.ok(
    (await trail(app, `&until=${encodeURIComponent(c.at)}`)).every((r) => r.at <= c.at),
    'until',
  )

  const paged: Rec[] = []
  let cursor = ''
  for (let i = 0; i < 10; i++) {
    const res = await app.inject({ method: 'GET', url: `/v1/audit?object=client:cassandra&limit=1${cursor}`, headers: as('auditor') })
    const body = res.json()
    paged.push(...body.records)
    if (!body.cursor) break
    cursor = `&cursor=${body.cursor}`
  }
  t.same(
    paged.map((r) => r.id),
    about.map((r) => r.id),
    'a cursor pages through, nothing twice',
  )

  const csv = await app.inject({ method: 'GET', url: '/v1/audit?object=client:cassandra&format=csv', headers: as('auditor') })
  t.match(csv.headers['content-type'], /text\/csv/)
  const rows = csv.body.trim().split('\n')
  t.equal(rows[0], 'id,at,key,source,event_id,event_type,actor,operation,relationship,zedtoken')
  t.equal(
    rows.length - 1,
    about.reduce((n, r) => n + r.changes.length, 0),
    'one row per change',
  )

  for (const [url, field] of [
    ['/v1/audit?since=yesterday', 'since'],
    ['/v1/audit?object=client', 'querystring.object'],
    ['/v1/audit?cursor=x', 'querystring.cursor'],
  ] as const) {
    const bad = await app.inject({ method: 'GET', url, headers: as('auditor') })
    t.equal(bad.statusCode, 400, url)
    t.match(bad.json().field, field)
  }
  t.equal((await app.inject({ method: 'GET', url: '/v1/audit', headers: as('ops') })).statusCode, 403, 'needs the audit scope')
})

t.test('concurrent writes through every door: one record per applied write, none lost', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  const base = (await trail(app)).length
  const N = 60
  const sent = Array.from({ length: N }, (_, i) => ev('client.created', { clientId: `c${i}`, organizationId: 'acme', primaryCoachId: i % 2 ? 'rob' : 'cara' }))
  const answers = await Promise.all([
    ...sent.map((e) => app.inject({ method: 'POST', url: '/v1/events', payload: e })),
    // the same client's pairing, raced: each applied one is one record
    ...Array.from({ length: 20 }, (_, i) =>
      app.inject({ method: 'POST', url: '/v1/events', payload: ev('pairing.set', { clientId: 'c0', coachId: i % 2 ? 'rob' : 'cara', level: 'primary' }) }),
    ),
    ...Array.from({ length: 20 }, (_, i) =>
      app.inject({
        method: 'POST',
        url: '/v1/relationships',
        payload: { updates: [{ operation: 'touch', relationship: `client:c${i}#view_only@user:v${i}` }] },
      }),
    ),
    // a duplicate of each of the first ten: never a second record
    ...sent.slice(0, 10).map((e) => app.inject({ method: 'POST', url: '/v1/events', payload: e })),
  ])
  const applied = answers.filter((a) => a.statusCode === 200 && (a.json().results?.[0]?.status ?? 'applied') === 'applied')
  const all = await trail(app)
  t.equal(all.length - base, applied.length, `${applied.length} applied writes, as many records`)
  const ids = all.flatMap((r) => (r.event ? [r.event.id] : []))
  t.equal(new Set(ids).size, ids.length, 'no event recorded twice')
  for (const e of sent) t.ok(ids.includes(e.id), `${e.id} recorded`)
  t.equal(new Set(all.map((r) => r.id)).size, all.length, 'ids unique')
})
