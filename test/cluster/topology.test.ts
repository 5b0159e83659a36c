/**
 * The suites that matter, against the production topology (scripts/cluster.sh start: three
 * SpiceDB nodes dispatching over one Postgres, Redis, two gateway replicas) over real HTTP:
 * sub-problems dispatched between nodes (SpiceDB's own metrics), events and the invariants
 * with events spread over both replicas, read-your-writes across replicas, lookup cursors
 * across replicas, the changes feed and its resume through either replica, the audit trail.
 */
import t from 'tap'
import { ev } from '../helpers/events.js'
import { invariantViolations } from '../helpers/invariants.js'
import { grantRevokeLoops, report } from '../helpers/read-your-writes.js'
import { readSse } from '../helpers/sse.js'
import { createRemoteEngine } from '../../src/engine/remote.js'
import { clusterApps, gateways, metricsUrls, needCluster, nodeCounters, request, runTag } from '../helpers/cluster.js'

const DISPATCHED = /^grpc_server_handled_total\{.*grpc_service="dispatch\.v1\.DispatchService"/
const API_CALLS = /^grpc_server_handled_total\{.*grpc_service="authzed\.api\.v1\.PermissionsService"/

async function events(app: ReturnType<typeof clusterApps>[number], ...list: object[]) {
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: { events: list } })
  if (res.statusCode !== 200) throw new Error(`events: ${res.statusCode} ${res.body}`)
  return res.json() as { results: { status: string }[] }
}

t.test('checks through both replicas are answered by sub-problems dispatched between the three nodes', async (t) => {
  if (!needCluster(t)) return
  t.equal(metricsUrls.length, 3, 'three SpiceDB nodes expose metrics')
  const [a, b] = clusterApps()
  const org = `disp-${runTag()}`
  await events(
    a!,
    ev('organization.created', { organizationId: org, ownerId: `${org}-olga` }),
    ev('organization.member_added', { organizationId: org, userId: `${org}-rob`, role: 'coach' }),
  )
  await events(
    b!,
    ...Array.from({ length: 30 }, (_, i) => ev('client.created', { clientId: `${org}-c${i}`, organizationId: org, primaryCoachId: `${org}-rob` })),
  )
  const ask = (app: typeof a, i: number) =>
    app!.inject({ method: 'POST', url: '/v1/check', payload: { resource: `client:${org}-c${i}`, permission: 'view', subject: `user:${org}-olga` } })
  const before = await nodeCounters(DISPATCHED)
  let allowedCount = 0
  for (let i = 0; i < 15; i++) {
    const res = await ask(i % 2 ? a : b, i)
    t.equal(res.statusCode, 200, res.body)
    if (res.json().allowed) allowedCount++
  }
  t.equal(allowedCount, 15, 'the owner sees every client (through organization->can_view_all_clients)')
  const handled = (await nodeCounters(DISPATCHED)).map((n, i) => n - before[i]!)
  t.comment(`dispatched sub-problems handled per node, checks through the gateways: ${handled.join(', ')}`)
  t.ok(
    handled.every((n) => n > 0),
    `every node served dispatched sub-problems (${handled.join(', ')})`,
  )

  // Between nodes, not only to itself: API calls to node 1 alone; nodes 2 and 3 get no API
  // call in this window, so every sub-problem they handle was sent by node 1.
  const key = process.env.CLUSTER_PRESHARED_KEY
  const first = process.env.CLUSTER_SPICEDB?.split(',')[0]
  if (!key || !first) return t.fail('CLUSTER_PRESHARED_KEY and CLUSTER_SPICEDB (scripts/cluster.sh env) are needed')
  const engine = createRemoteEngine({ endpoints: [first], presharedKey: key, insecure: true, timeoutMs: 5000 })
  t.teardown(() => engine.close())
  const apiBefore = await nodeCounters(API_CALLS)
  const dispBefore = await nodeCounters(DISPATCHED)
  const items = Array.from({ length: 15 }, (_, i) => ({
    resource: { type: 'client', id: `${org}-c${15 + i}` },
    permission: 'view',
    subject: { type: 'user', id: `${org}-olga` },
  }))
  for (const item of items) t.equal((await engine.check([item], { mode: 'fully_consistent' })).results[0]?.permissionship, 'has_permission')
  const api = (await nodeCounters(API_CALLS)).map((n, i) => n - apiBefore[i]!)
  const disp = (await nodeCounters(DISPATCHED)).map((n, i) => n - dispBefore[i]!)
  t.comment(`API calls per node: ${api.join(', ')}; dispatched sub-problems handled per node: ${disp.join(', ')}`)
  t.ok(api[0]! >= 15, 'node 1 answered the API calls')
  t.same([api[1], api[2]], [0, 0], 'nodes 2 and 3 got no API call')
  t.ok(disp[1]! + disp[2]! > 0, `nodes 2 and 3 handled ${disp[1]! + disp[2]!} sub-problems that node 1 dispatched to them`)
})

t.test('events through both replicas keep the invariants (I1-I8)', async (t) => {
  if (!needCluster(t)) return
  const [a, b] = clusterApps()
  const org = `inv-${runTag()}`
  const id = (x: string) => `${org}-${x}`
  await events(a!, ev('organization.created', { organizationId: org, ownerId: id('olga') }))
  await events(
    b!,
    ev('organization.member_added', { organizationId: org, userId: id('rob'), role: 'coach' }),
    ev('organization.member_added', { organizationId: org, userId: id('cara'), role: 'coach' }),
  )
  await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      events(i % 2 ? a! : b!, ev('client.created', { clientId: id(`c${i}`), organizationId: org, primaryCoachId: id(i % 3 ? 'rob' : 'cara') })),
    ),
  )
  // the primary coach moves while another replica pairs and removes
  await Promise.all([
    events(a!, ev('pairing.set', { clientId: id('c1'), coachId: id('cara'), level: 'primary' })),
    events(b!, ev('pairing.set', { clientId: id('c2'), coachId: id('cara'), level: 'coaching' })),
  ])
  const clients = Array.from({ length: 12 }, (_, i) => id(`c${i}`))
  const violations = await invariantViolations(a!, { organizations: [org], clients })
  t.same(violations, [], 'every invariant holds')
  const dup = await b!.inject({ method: 'POST', url: '/v1/events', payload: ev('organization.created', { organizationId: org, ownerId: id('olga') }) })
  t.not(dup.statusCode, 500, 'an event re-sent through the other replica is answered, not an error')
})

t.test('read-your-writes across the replicas: writes through one, checks through the other, no token', async (t) => {
  if (!needCluster(t)) return
  const [a, b] = clusterApps()
  const cycles = Number(process.env.CLUSTER_RYW_CYCLES ?? 12)
  report(t, 'cluster, two replicas, no token', await grantRevokeLoops(a!, b!, 'none', `ryw-${runTag()}`, cycles), cycles)
  // an event that uses an object created through the other replica just before
  const org = `rywe-${runTag()}`
  const id = (x: string) => `${org}-${x}`
  await events(
    a!,
    ev('organization.created', { organizationId: org, ownerId: id('olga') }),
    ev('organization.member_added', { organizationId: org, userId: id('rob'), role: 'coach' }),
    ev('organization.member_added', { organizationId: org, userId: id('cara'), role: 'coach' }),
  )
  const refusals: string[] = []
  await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      for (let r = 0; r < 4; r++) {
        const clientId = id(`c-${i}-${r}`)
        const created = await a!.inject({
          method: 'POST',
          url: '/v1/events',
          payload: ev('client.created', { clientId, organizationId: org, primaryCoachId: id('rob') }),
        })
        if (created.statusCode !== 200) refusals.push(`client.created: ${created.statusCode} ${created.body}`)
        const used = await b!.inject({ method: 'POST', url: '/v1/events', payload: ev('pairing.set', { clientId, coachId: id('cara'), level: 'coaching' }) })
        if (used.statusCode !== 200) refusals.push(`pairing.set: ${used.statusCode} ${used.body}`)
      }
    }),
  )
  t.same(refusals.slice(0, 3), [], '32 create-then-use pairs across the replicas, none refused')
})

t.test('a lookup cursor from one replica is accepted by the other, and the pages add up', async (t) => {
  if (!needCluster(t)) return
  const [a, b] = clusterApps()
  const org = `cur-${runTag()}`
  await events(
    a!,
    ev('organization.created', { organizationId: org, ownerId: `${org}-olga` }),
    ev('organization.member_added', { organizationId: org, userId: `${org}-rob`, role: 'coach' }),
  )
  await events(
    b!,
    ...Array.from({ length: 7 }, (_, i) => ev('client.created', { clientId: `${org}-c${i}`, organizationId: org, primaryCoachId: `${org}-rob` })),
  )
  const seen = new Set<string>()
  let cursor: string | undefined
  for (let page = 0; page < 20; page++) {
    const app = page % 2 ? b! : a!
    const res = await app.inject({
      method: 'POST',
      url: '/v1/lookup/resources',
      payload: { resourceType: 'client', permission: 'coach', subject: `user:${org}-rob`, limit: 2, cursor },
    })
    t.equal(res.statusCode, 200, `page ${page} through ${page % 2 ? 'gateway-2' : 'gateway-1'}: ${res.body.slice(0, 200)}`)
    for (const r of res.json().resources as { id: string }[]) seen.add(r.id)
    cursor = res.json().cursor
    if (!cursor) break
  }
  t.equal(seen.size, 7, 'all seven clients, paging across the replicas')
})

t.test('the changes feed through either replica, resumed through the other, misses nothing and repeats nothing', async (t) => {
  if (!needCluster(t)) return
  const [a] = clusterApps()
  const tag = runTag()
  const ports = gateways.map((g) => Number(new URL(g).port))
  const first = readSse(ports[0]!, '/v1/changes?types=user')
  t.equal(await first.status, 200)
  await first.waitFor((e) => e.some((x) => x.event === 'ready'), 10_000)
  const N = 30
  const expected = Array.from({ length: N }, (_, i) => `user:${tag}-u${i}#manager@user:${tag}-m${i}`)
  const write = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const res = await a!.inject({ method: 'POST', url: '/v1/relationships', payload: { updates: [{ operation: 'touch', relationship: expected[i] }] } })
      if (res.statusCode !== 200) throw new Error(res.body)
    }
  }
  await write(0, 12)
  const mine = (events: typeof first.events) =>
    events
      .filter((e) => e.event === 'change')
      .flatMap((e) => (JSON.parse(e.data).changes as { relationship: string }[]).map((c) => c.relationship))
      .filter((r) => r.includes(tag))
  await first.waitFor((e) => mine(e).length >= 12, 15_000)
  first.close()
  await first.ended
  const lastId = first.events.filter((e) => e.event === 'change').at(-1)!.id!
  await write(12, N)
  const second = readSse(ports[1]!, '/v1/changes?types=user', { 'last-event-id': lastId })
  t.equal(await second.status, 200)
  await second.waitFor(() => mine(first.events).length + mine(second.events).length >= N, 20_000)
  await new Promise((r) => setTimeout(r, 500))
  second.close()
  const all = [...mine(first.events), ...mine(second.events)]
  t.equal(all.length, N, `${N} changes across the two replicas' feeds`)
  t.same([...new Set(all)].sort(), [...expected].sort(), 'each exactly once')
})

t.test('the audit trail in Redis holds the events from both replicas, once each', async (t) => {
  if (!needCluster(t)) return
  const [a, b] = clusterApps()
  const org = `aud-${runTag()}`
  await events(
    a!,
    ev('organization.created', { organizationId: org, ownerId: `${org}-olga` }),
    ev('organization.member_added', { organizationId: org, userId: `${org}-rob`, role: 'coach' }),
  )
  const sent = Array.from({ length: 10 }, (_, i) => ev('client.created', { clientId: `${org}-c${i}`, organizationId: org, primaryCoachId: `${org}-rob` }))
  await Promise.all(sent.map((e, i) => events(i % 2 ? a! : b!, e)))
  for (const app of [a!, b!]) {
    const ids: string[] = []
    let cursor = ''
    for (let page = 0; page < 50; page++) {
      const res = await request((app as unknown as { base: string }).base, { method: 'GET', url: `/v1/audit?object=organization:${org}&limit=1000${cursor}` })
      t.equal(res.statusCode, 200, res.body.slice(0, 200))
      const body = res.json() as { records: { event?: { id: string } }[]; cursor?: string }
      ids.push(...body.records.flatMap((r) => (r.event ? [r.event.id] : [])))
      if (!body.cursor) break
      cursor = `&cursor=${encodeURIComponent(body.cursor)}`
    }
    const clientEvents = ids.filter((id) => sent.some((e) => e.id === id))
    t.equal(new Set(clientEvents).size, 10, 'all ten events, whichever replica applied them')
    t.equal(clientEvents.length, 10, 'none twice')
  }
})
