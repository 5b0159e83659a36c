/**
 * The read-your-writes loops (test/read-your-writes*.test.ts): 16 loops each grant a
 * privilege, check it, revoke it and check again; a check issued after the grant (or revoke)
 * was acknowledged must see it. Also: an event that creates an object, then at once an event
 * that uses it.
 */
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { createEmbeddedEngine } from '../../src/engine/embedded.js'
import { buildTestApp, testEngine, type TestApp } from './app.js'
import { remoteEnv, startRemoteEngine } from './engine-remote.js'
import { ev } from './events.js'

export const LOOPS = 16
/** per loop: 16 x 320 = 5,120 cycles */
export const CYCLES = Number(process.env.RYW_CYCLES ?? 320)
export const redisUrl = process.env.TEST_REDIS_URL

/** what the checks pass: nothing, the write's own token, or an explicit fully_consistent */
export type CheckMode = 'none' | 'token' | 'fully_consistent'

interface Tally {
  cycles: number
  staleAllows: number
  invisibleGrants: number
  failures: string[]
}

/**
 * Sends a request, again after a pause when the gateway sheds load (503 GW_OVERLOADED: two
 * apps in one busy test process can trip the event-loop guard), as a client would.
 */
async function inject(app: TestApp, opts: { method: 'POST'; url: string; payload: object }) {
  for (let attempt = 0; ; attempt++) {
    const res = await app.inject(opts)
    if (res.statusCode !== 503 || res.json().code !== 'GW_OVERLOADED' || attempt >= 50) return res
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function writeRel(app: TestApp, operation: 'touch' | 'delete', rel: string): Promise<string> {
  const res = await inject(app, {
    method: 'POST',
    url: '/v1/relationships',
    payload: { updates: [{ operation, relationship: rel }] },
  })
  if (res.statusCode !== 200) throw new Error(`${operation} ${rel}: ${res.statusCode} ${res.body}`)
  return res.json().writtenAt as string
}

async function allowed(app: TestApp, resource: string, subject: string, mode: CheckMode, token: string): Promise<boolean> {
  const res = await inject(app, {
    method: 'POST',
    url: '/v1/check',
    payload: {
      resource,
      permission: 'can_manage_branding',
      subject,
      ...(mode === 'token' ? { consistency: { mode: 'at_least_as_fresh', token } } : {}),
      ...(mode === 'fully_consistent' ? { consistency: { mode } } : {}),
    },
  })
  if (res.statusCode !== 200) throw new Error(`check ${resource}: ${res.statusCode} ${res.body}`)
  return res.json().allowed as boolean
}

/**
 * Grant, check, revoke, check: writes through `writer`, checks through `reader`. Each loop
 * owns its organization, so the expected answer of every check is known.
 */
export async function grantRevokeLoops(writer: TestApp, reader: TestApp, mode: CheckMode, tag: string, cycles = CYCLES): Promise<Tally> {
  const tally: Tally = { cycles: 0, staleAllows: 0, invisibleGrants: 0, failures: [] }
  await Promise.all(
    Array.from({ length: LOOPS }, async (_, i) => {
      const resource = `organization:${tag}-${i}`
      const subject = `user:${tag}-u${i}`
      const rel = `${resource}#manage_branding@${subject}`
      for (let c = 0; c < cycles; c++) {
        try {
          const granted = await writeRel(writer, 'touch', rel)
          if (!(await allowed(reader, resource, subject, mode, granted))) tally.invisibleGrants++
          const revoked = await writeRel(writer, 'delete', rel)
          if (await allowed(reader, resource, subject, mode, revoked)) tally.staleAllows++
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

/** the gateway's read-your-writes counters, where the app has them */
function stats(apps: TestApp[]): string {
  const all = apps.map((a) => a.gateway.readYourWrites.stats)
  return all.length ? `; gateway: ${all.map((s) => JSON.stringify(s)).join(', ')}` : ''
}

export function report(t: Test, what: string, tally: Tally, cycles = CYCLES, apps: TestApp[] = []) {
  t.comment(`${what}: ${tally.cycles} cycles, ${tally.staleAllows} stale allows, ${tally.invisibleGrants} invisible grants${stats(apps)}`)
  t.same(tally.failures, [], `no request failed${tally.failures.length ? `: ${tally.failures[0]}` : ''}`)
  t.ok(tally.cycles >= LOOPS * cycles, `${tally.cycles} cycles ran`)
  t.equal(tally.staleAllows, 0, 'no check after an acknowledged revoke answered allowed')
  t.equal(tally.invisibleGrants, 0, 'no check after an acknowledged grant answered not allowed')
}

/**
 * Two gateways over one engine sharing one Redis, as two replicas would: on the remote
 * engine two apps over one SpiceDB server, on the embedded engine two apps over one engine.
 */
export async function twoReplicas(t: Test): Promise<[TestApp, TestApp]> {
  if (testEngine() === 'embedded') {
    const engine = await createEmbeddedEngine({ timeoutMs: 10_000, decisionCacheMax: 100_000 })
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

/**
 * An event that creates an object, then at once an event that uses it: the second is planned
 * from reads that must see the first (a stale read refuses it as GW_UNKNOWN_OBJECT, and from
 * the stream it would be dead-lettered).
 */
export async function createThenUse(t: Test, creator: TestApp, user: TestApp) {
  const rounds = Number(process.env.RYW_EVENT_ROUNDS ?? 20)
  let applied = 0
  const refusals: string[] = []
  await Promise.all(
    Array.from({ length: LOOPS }, async (_, i) => {
      for (let r = 0; r < rounds; r++) {
        const clientId = `c-${i}-${r}`
        const created = await inject(creator, {
          method: 'POST',
          url: '/v1/events',
          payload: ev('client.created', { clientId, organizationId: 'acme', primaryCoachId: 'rob' }),
        })
        if (created.statusCode !== 200) {
          refusals.push(`client.created: ${created.statusCode} ${created.body}`)
          continue
        }
        const used = await inject(user, { method: 'POST', url: '/v1/events', payload: ev('pairing.set', { clientId, coachId: 'cara', level: 'coaching' }) })
        if (used.statusCode === 200) applied++
        else refusals.push(`pairing.set: ${used.statusCode} ${used.json().code}`)
      }
    }),
  )
  const unknown = refusals.filter((r) => r.includes('GW_UNKNOWN_OBJECT')).length
  const first = refusals[0] ? `; first refusal: ${refusals[0].slice(0, 200)}` : ''
  t.comment(`${applied} of ${LOOPS * rounds} follow-up events applied, ${unknown} GW_UNKNOWN_OBJECT${first}`)
  t.same(refusals.slice(0, 5), [], 'no event refused')
  t.equal(applied, LOOPS * rounds)
}
