/**
 * History: a business seeded by events, times T1 < T2 < T3 noted around a role change, a pairing
 * and a deactivation. The access report as of each time lists exactly who held the permission
 * then (what checks answered at that time), access changes between T1 and T3 list every gain and
 * loss with the event behind it (one came through the organization), and a time outside what is
 * retained answers 422 naming the setting. Runs on both engines (TRELLIS_TEST_ENGINE).
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildTestApp, type TestApp } from '../../helpers/app.js'
import { apply, can, ev } from '../../helpers/events.js'

const CLIENT = 'client:cassandra'
const PEOPLE = ['olivia', 'adam', 'rob', 'cara', 'vic'].map((u) => `user:${u}`)

async function holdersNow(app: TestApp): Promise<string[]> {
  const out: string[] = []
  for (const p of PEOPLE) if (await can(app, CLIENT, 'view', p)) out.push(p)
  return out
}

const report = async (app: TestApp, asOf: string) => {
  const res = await app.inject({ method: 'GET', url: `/v1/access-report?resource=${CLIENT}&permission=view&asOf=${encodeURIComponent(asOf)}` })
  if (res.statusCode !== 200) throw new Error(`access report as of ${asOf}: ${res.body}`)
  return res.json() as { subjects: { subject: string }[]; reportedAt: string; asOf: { asOf: string; revision: string } }
}

/** a moment strictly between two writes: noted after one answered, before the next is sent */
async function moment(): Promise<string> {
  await sleep(5)
  const at = new Date().toISOString()
  await sleep(5)
  return at
}

t.test('as of T1, T2, T3: who held view then, and what changed between', async (t) => {
  const app = await buildTestApp(t)
  const started = new Date(Date.now() - 1000).toISOString()
  const created = ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' })
  await apply(
    t,
    app,
    created,
    ev('organization.member_added', { organizationId: 'acme', userId: 'adam', role: 'admin' }),
    ev('organization.member_added', { organizationId: 'acme', userId: 'rob', role: 'coach' }),
    ev('organization.member_added', { organizationId: 'acme', userId: 'cara', role: 'coach' }),
    ev('organization.member_added', { organizationId: 'acme', userId: 'vic', role: 'member' }),
    ev('client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'rob' }),
  )
  const T1 = await moment()
  const atT1 = await holdersNow(app)
  const promoted = ev('organization.member_role_changed', { organizationId: 'acme', userId: 'vic', role: 'admin' }, 'user:olivia')
  const paired = ev('pairing.set', { clientId: 'cassandra', coachId: 'cara', level: 'coaching' }, 'user:olivia')
  await apply(t, app, promoted)
  await apply(t, app, paired)
  const T2 = await moment()
  const atT2 = await holdersNow(app)
  const deactivated = ev('user.deactivated', { organizationId: 'acme', userId: 'adam' }, 'user:olivia')
  await apply(t, app, deactivated)
  const T3 = await moment()
  const atT3 = await holdersNow(app)
  t.same(atT1, ['user:olivia', 'user:adam', 'user:rob'], 'the seed: owner, admin and primary coach view')
  t.same(atT2, ['user:olivia', 'user:adam', 'user:rob', 'user:cara', 'user:vic'])
  t.same(atT3, ['user:olivia', 'user:rob', 'user:cara', 'user:vic'])

  for (const [at, expected] of [
    [T1, atT1],
    [T2, atT2],
    [T3, atT3],
  ] as const) {
    const r = await report(app, at)
    t.same(r.subjects.map((s) => s.subject).sort(), [...expected].sort(), `as of ${at}: exactly who held view then`)
    t.equal(r.reportedAt, r.asOf.revision, 'read at the revision it names')
    t.equal(r.asOf.asOf, at)
  }
  // the other questions read the same past
  const check = async (asOf: string, subject: string) => {
    const res = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource: CLIENT, permission: 'view', subject, asOf } })
    t.equal(res.statusCode, 200, res.body)
    return res.json()
  }
  t.equal((await check(T1, 'user:vic')).allowed, false, 'vic could not view at T1')
  t.equal((await check(T2, 'user:vic')).allowed, true, 'vic could view at T2')
  t.equal((await check(T3, 'user:adam')).allowed, false, 'adam could not at T3')
  t.equal((await check(T2, 'user:adam')).allowed, true, 'adam could at T2')
  const lookup = await app.inject({
    method: 'POST',
    url: '/v1/lookup/subjects',
    payload: { resource: CLIENT, permission: 'view', subjectType: 'user', asOf: T1 },
  })
  t.same(
    lookup
      .json()
      .subjects.map((s: { id: string }) => `user:${s.id}`)
      .sort(),
    [...atT1].sort(),
    'lookup subjects as of T1',
  )
  // what cara could reach, and the relationships of the client, as of each time (the explorer's other views)
  const reach = async (asOf: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/lookup/resources',
      payload: { subject: 'user:cara', resourceType: 'client', permission: 'view', asOf },
    })
    t.equal(res.statusCode, 200, res.body)
    return res.json().resources.map((r: { id: string }) => r.id)
  }
  t.same(await reach(T1), [], 'lookup resources as of T1: cara viewed no client yet')
  t.same(await reach(T2), ['cassandra'], 'as of T2 she did')
  const rels = async (asOf: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/relationships?resourceType=client&resourceId=cassandra&asOf=${encodeURIComponent(asOf)}` })
    t.equal(res.statusCode, 200, res.body)
    t.ok(res.json().asOf.revision, 'the read names its revision')
    return res.json().relationships as string[]
  }
  t.notOk((await rels(T1)).includes('client:cassandra#coaching@user:cara'), 'the relationships as of T1: no pairing yet')
  t.ok((await rels(T2)).includes('client:cassandra#coaching@user:cara'), 'as of T2: the pairing')
  const oldRels = await app.inject({ method: 'GET', url: '/v1/relationships?resourceType=client&resourceId=cassandra&asOf=2020-01-01T00:00:00Z' })
  t.equal(oldRels.statusCode, 422, 'past retention: 422 there too')
  const why = await app.inject({ method: 'POST', url: '/v1/explain', payload: { resource: CLIENT, permission: 'view', subject: 'user:cara', asOf: T1 } })
  t.equal(why.json().allowed, false, 'explain as of T1: cara could not view yet')
  t.ok(why.json().asOf.revision, 'explain names the revision')

  const changes = await app.inject({ method: 'GET', url: `/v1/access-changes?resource=${CLIENT}&permission=view&since=${T1}&until=${T3}` })
  t.equal(changes.statusCode, 200, changes.body)
  const list = changes.json().changes as {
    at: string
    subject: string
    change: string
    via: string[][]
    write: { event?: string; type?: string; actor?: string }
  }[]
  t.same(
    list.map((c) => [c.subject, c.change, c.write.event, c.write.type]),
    [
      ['user:vic', 'gained', promoted.id, 'organization.member_role_changed'],
      ['user:cara', 'gained', paired.id, 'pairing.set'],
      ['user:adam', 'lost', deactivated.id, 'user.deactivated'],
    ],
    'every gain and loss, in time order, with the event that caused it',
  )
  t.ok(
    list[0]!.via.some((p) => p.some((step) => step.startsWith('organization:acme#admin@user:vic'))),
    `vic's came through the organization: ${JSON.stringify(list[0]!.via)}`,
  )
  t.ok(
    list[1]!.via.some((p) => p.includes('client:cassandra#coaching@user:cara')),
    'cara by the pairing',
  )
  t.ok(list[2]!.via.length > 0, 'a loss shows the path it was held by before')
  t.equal(list[0]!.write.actor, 'user:olivia')
  t.ok(
    list.every((c, i) => i === 0 || c.at >= list[i - 1]!.at),
    'in time order',
  )

  const csv = await app.inject({ method: 'GET', url: `/v1/access-changes?resource=${CLIENT}&permission=view&since=${T1}&until=${T3}&format=csv` })
  t.match(csv.headers['content-type'], /^text\/csv/)
  t.match(csv.body, /^at,subject,change,path,write_id,source,event_id,event_type,actor,key,zedtoken\n/)
  t.match(csv.body, new RegExp(`user:adam,lost,.*,${deactivated.id},user\\.deactivated,user:olivia`))

  const one = await app.inject({ method: 'GET', url: `/v1/access-changes?resource=${CLIENT}&permission=view&since=${T2}&until=${T3}` })
  t.same(
    one.json().changes.map((c: { subject: string }) => c.subject),
    ['user:adam'],
    'a narrower window: only what changed in it',
  )

  // outside what is retained: 422 naming the setting, never an answer of another moment
  const old = await report(app, '2020-01-01T00:00:00Z').catch((e: Error) => e)
  t.match(String(old), /GW_HISTORY_UNAVAILABLE/)
  const past = await app.inject({ method: 'GET', url: `/v1/access-report?resource=${CLIENT}&permission=view&asOf=2020-01-01T00:00:00Z` })
  t.equal(past.statusCode, 422)
  t.equal(past.json().code, 'GW_HISTORY_UNAVAILABLE')
  t.match(past.json().message, /HISTORY_RETENTION/)
  const before = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource: CLIENT, permission: 'view', subject: 'user:rob', asOf: started } })
  t.equal(before.statusCode, 422, 'before the first recorded write')
  t.match(before.json().message, /AUDIT_MAX_RECORDS/)
  const since = await app.inject({ method: 'GET', url: `/v1/access-changes?resource=${CLIENT}&permission=view&since=2020-01-01T00:00:00Z` })
  t.equal(since.statusCode, 422)
  t.equal(since.json().field, 'since')
  const future = await app.inject({
    method: 'POST',
    url: '/v1/check',
    payload: { resource: CLIENT, permission: 'view', subject: 'user:rob', asOf: '2999-01-01T00:00:00Z' },
  })
  t.equal(future.statusCode, 400, 'the future is not history')
  const both = await app.inject({
    method: 'POST',
    url: '/v1/check',
    payload: { resource: CLIENT, permission: 'view', subject: 'user:rob', asOf: T1, consistency: { mode: 'fully_consistent' } },
  })
  t.equal(both.statusCode, 400, 'asOf with consistency is refused')
  t.equal(both.json().field, 'asOf')
})

t.test('access changes are bounded: a cursor where HISTORY_MAX_REVISIONS stops, and the rest on the next call', async (t) => {
  const app = await buildTestApp(t, { overrides: { history: { retentionMs: 90 * 86_400_000, maxRevisions: 2, maxScanned: 50_000 } } })
  await apply(
    t,
    app,
    ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' }),
    ev('client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'olivia' }),
  )
  const T1 = await moment()
  for (const u of ['a1', 'a2', 'a3']) await apply(t, app, ev('organization.member_added', { organizationId: 'acme', userId: u, role: 'admin' }))
  // a write to another organization cannot change who views this client... but the schema says it may (same types): replayed, no change
  const first = (await app.inject({ method: 'GET', url: `/v1/access-changes?resource=${CLIENT}&permission=view&since=${T1}` })).json()
  t.equal(first.revisions, 2)
  t.same(
    first.changes.map((c: { subject: string }) => c.subject),
    ['user:a1', 'user:a2'],
  )
  t.ok(first.cursor, 'more follows')
  const next = (await app.inject({ method: 'GET', url: `/v1/access-changes?resource=${CLIENT}&permission=view&since=${T1}&cursor=${first.cursor}` })).json()
  t.same(
    next.changes.map((c: { subject: string }) => c.subject),
    ['user:a3'],
  )
  t.notOk(next.cursor)
})

t.test('access changes skip the writes that cannot reach the object, and HISTORY_MAX_SCANNED bounds what one call reads', async (t) => {
  const app = await buildTestApp(t, { overrides: { history: { retentionMs: 90 * 86_400_000, maxRevisions: 200, maxScanned: 3 } } })
  await apply(
    t,
    app,
    ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' }),
    ev('client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'olivia' }),
    ev('organization.created', { organizationId: 'globex', ownerId: 'gina' }),
    ev('client.created', { clientId: 'gus', organizationId: 'globex', primaryCoachId: 'gina' }),
  )
  const T1 = await moment()
  // four writes in another organization, then one admin in cassandra's: the same types, other objects
  for (const u of ['g1', 'g2', 'g3', 'g4']) await apply(t, app, ev('organization.member_added', { organizationId: 'globex', userId: u, role: 'admin' }))
  await apply(t, app, ev('organization.member_added', { organizationId: 'acme', userId: 'a1', role: 'admin' }))
  const get = async (q: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/access-changes?resource=${CLIENT}&permission=view&since=${T1}${q}` })
    t.equal(res.statusCode, 200, res.body)
    return res.json() as { revisions: number; scanned: number; cursor?: string; changes: { subject: string; change: string }[] }
  }
  const first = await get('')
  t.equal(first.scanned, 3, 'one call reads at most HISTORY_MAX_SCANNED records')
  t.equal(first.revisions, 0, "writes to globex are not replayed for acme's client")
  t.same(first.changes, [])
  t.ok(first.cursor, 'more follows')
  const next = await get(`&cursor=${first.cursor}`)
  t.equal(next.scanned, 2)
  t.equal(next.revisions, 1, 'only the write to acme is replayed')
  t.same(
    next.changes.map((c) => `${c.change} ${c.subject}`),
    ['gained user:a1'],
  )
  t.notOk(next.cursor)

  // the same window on gus: globex's admins gained, acme's write skipped
  const gus = await app.inject({ method: 'GET', url: `/v1/access-changes?resource=client:gus&permission=view&since=${T1}` })
  t.same(
    gus.json().changes.map((c: { subject: string }) => c.subject),
    ['user:g1', 'user:g2', 'user:g3'],
  )
  t.equal(gus.json().revisions, 3)
})
