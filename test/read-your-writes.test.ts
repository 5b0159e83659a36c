/**
 * Read-your-writes under concurrency, through the public surface: 16 loops each grant a
 * privilege, check it, revoke it and check again. A check issued after the grant (or revoke)
 * was acknowledged must see it, whether or not the caller passes the write's token, through
 * the gateway that wrote or through another replica over the same engine.
 *
 * On the stock SpiceDB v1.54 server, fully consistent reads share one in-flight head-revision
 * lookup (so a read can be answered at a revision taken before its own write), and the
 * in-memory datastore records concurrent writes out of revision order (#3212): both made
 * these loops see stale answers before the gateway tracked its write tokens.
 */
import t, { type Test } from 'tap'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { createEmbeddedEngine } from '../src/engine/embedded.js'
import { buildTestApp, requirePart, testEngine, type TestApp } from './helpers/app.js'
import { remoteEnv, startRemoteEngine } from './helpers/engine-remote.js'
import { apply, ev, post, seedOrg } from './helpers/events.js'

const LOOPS = 16
const CYCLES = Number(process.env.RYW_CYCLES ?? 320) // per loop: 16 x 320 = 5,120
const redisUrl = process.env.TEST_REDIS_URL

interface Tally {
  cycles: number
  staleAllows: number
  invisibleGrants: number
  failures: string[]
}

async function writeRel(app: TestApp, operation: 'touch' | 'delete', rel: string): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/relationships',
    payload: { updates: [{ operation, relationship: rel }] },
  })
  if (res.statusCode !== 200) throw new Error(`${operation} ${rel}: ${res.statusCode} ${res.body}`)
  return res.json().writtenAt as string
}

async function allowed(app: TestApp, resource: string, subject: string, token?: string): Promise<boolean> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/check',
    payload: {
      resource,
      permission: 'can_manage_branding',
      subject,
      ...(token ? { consistency: { mode: 'at_least_as_fresh', token } } : {}),
    },
  })
  if (res.statusCode !== 200) throw new Error(`check ${resource}: ${res.statusCode} ${res.body}`)
  return res.json().allowed as boolean
}

/**
 * Grant, check, revoke, check: writes through `writer`, checks through `reader`. Each loop
 * owns its organization, so the expected answer of every check is known.
 */
async function grantRevokeLoops(writer: TestApp, reader: TestApp, passToken: boolean, tag: string): Promise<Tally> {
  const tally: Tally = { cycles: 0, staleAllows: 0, invisibleGrants: 0, failures: [] }
  await Promise.all(
    Array.from({ length: LOOPS }, async (_, i) => {
      const resource = `organization:${tag}-${i}`
      const subject = `user:${tag}-u${i}`
      const rel = `${resource}#manage_branding@${subject}`
      for (let c = 0; c < CYCLES; c++) {
        try {
          const granted = await writeRel(writer, 'touch', rel)
          if (!(await allowed(reader, resource, subject, passToken ? granted : undefined))) tally.invisibleGrants++
          const revoked = await writeRel(writer, 'delete', rel)
          if (await allowed(reader, resource, subject, passToken ? revoked : undefined)) tally.staleAllows++
          tally.cycles++
        } catch (err) {
          if (tally.failures.length < 5) tally.failures.push(String(err))
          if (tally.failures.length >= 5) return
        }
      }
    }),
  )
  return tally
}

function report(t: Test, what: string, tally: Tally) {
  t.comment(`${what}: ${tally.cycles} cycles, ${tally.staleAllows} stale allows, ${tally.invisibleGrants} invisible grants`)
  t.same(tally.failures, [], `no request failed${tally.failures.length ? `: ${tally.failures[0]}` : ''}`)
  t.ok(tally.cycles >= LOOPS * CYCLES, `${tally.cycles} cycles ran`)
  t.equal(tally.staleAllows, 0, 'no check after an acknowledged revoke answered allowed')
  t.equal(tally.invisibleGrants, 0, 'no check after an acknowledged grant answered not allowed')
}

/**
 * Two gateways over one engine sharing one Redis, as two replicas would: on the remote
 * engine two apps over one SpiceDB server, on the embedded engine two apps over one engine.
 */
async function twoReplicas(t: Test): Promise<[TestApp, TestApp]> {
  if (testEngine() === 'embedded') {
    const engine = await createEmbeddedEngine({ timeoutMs: 10_000 })
    t.teardown(() => engine.close())
    const a = await buildTestApp(t, { engine, overrides: { redisUrl } })
    const b = await buildTestApp(t, { engine, overrides: { redisUrl } })
    return [a, b]
  }
  const server = await startRemoteEngine()
  const config = loadConfig(remoteEnv(server.endpoints, server.presharedKey, { REDIS_URL: redisUrl! }))
  const apps: TestApp[] = []
  t.teardown(async () => {
    for (const app of apps) await app.close()
    await server.close()
  })
  for (let i = 0; i < 2; i++) apps.push(await buildApp({ logger: false, config }))
  return [apps[0]!, apps[1]!]
}

t.test('16 grant/revoke/check loops, no token passed: every check sees the acknowledged write', async (t) => {
  const app = await buildTestApp(t)
  report(t, `${testEngine()}, one gateway, no token`, await grantRevokeLoops(app, app, false, 'none'))
})

t.test('16 grant/revoke/check loops, the write token passed: every check sees that write', async (t) => {
  const app = await buildTestApp(t)
  report(t, `${testEngine()}, one gateway, write token`, await grantRevokeLoops(app, app, true, 'tok'))
})

t.test('two replicas sharing Redis: writes through one, checks through the other, no token', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const [a, b] = await twoReplicas(t)
  report(t, `${testEngine()}, two replicas, no token`, await grantRevokeLoops(a, b, false, 'rep'))
})

/**
 * An event that creates an object, then at once an event that uses it: the second is planned
 * from reads that must see the first (a stale read refuses it as GW_UNKNOWN_OBJECT, and from
 * the stream it would be dead-lettered).
 */
async function createThenUse(t: Test, creator: TestApp, user: TestApp) {
  const rounds = Number(process.env.RYW_EVENT_ROUNDS ?? 20)
  let applied = 0
  const refusals: string[] = []
  await Promise.all(
    Array.from({ length: LOOPS }, async (_, i) => {
      for (let r = 0; r < rounds; r++) {
        const clientId = `c-${i}-${r}`
        const created = await post(creator, ev('client.created', { clientId, organizationId: 'acme', primaryCoachId: 'rob' }))
        if (created.statusCode !== 200) {
          refusals.push(`client.created: ${created.statusCode} ${created.body}`)
          continue
        }
        const used = await post(user, ev('pairing.set', { clientId, coachId: 'cara', level: 'coaching' }))
        if (used.statusCode === 200) applied++
        else refusals.push(`pairing.set: ${used.statusCode} ${used.json().code}`)
      }
    }),
  )
  const unknown = refusals.filter((r) => r.includes('GW_UNKNOWN_OBJECT')).length
  t.comment(`${applied} of ${LOOPS * rounds} follow-up events applied, ${unknown} GW_UNKNOWN_OBJECT`)
  t.same(refusals.slice(0, 5), [], 'no event refused')
  t.equal(applied, LOOPS * rounds)
}

t.test('an event using an object created by the event just before is never GW_UNKNOWN_OBJECT', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await createThenUse(t, app, app)
})

t.test('the same across two replicas sharing Redis', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const [a, b] = await twoReplicas(t)
  await seedOrg(t, a)
  await apply(t, a, ev('organization.member_added', { organizationId: 'acme', userId: 'zoe', role: 'coach' }))
  await createThenUse(t, a, b)
})
