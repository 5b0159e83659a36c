/**
 * What read-your-writes costs, against the previous default measured in the same run:
 * - before: checks `fully_consistent`, embedded writes running concurrently;
 * - after: checks at the gateway's default (at least as fresh as its writes, token from the
 *   in-process ZedTokenStore, or from Redis when BENCH_REDIS_URL is set), embedded writes
 *   one at a time.
 * Checks are measured with a write every WRITE_EVERY checks (so the token moves, as it does in
 * production); writes with 16 concurrent writers. Figures are ratios to "before", because
 * these machines are noisy.
 *
 * With SPICEDB_ENDPOINT (and SPICEDB_PRESHARED_KEY, plaintext) the same before/after pair is
 * measured on that server too (remote writes are never serialized; both scenarios write the
 * same objects on it, one after the other).
 *
 *   npx tsx bench/consistency.ts        (BENCH_N checks per scenario, default 4000)
 */
import { readFileSync } from 'node:fs'
import { Redis } from 'ioredis'
import { createEmbeddedEngine } from '../src/engine/embedded.js'
import { createRemoteEngine } from '../src/engine/remote.js'
import type { CheckItem, Consistency, EnginePort, RelationshipUpdate } from '../src/engine/port.js'
import { ReadYourWritesEngine } from '../src/engine/consistency/read-your-writes.js'
import { decodeZedToken } from '../src/engine/consistency/revision.js'
import { MemoryZedTokenStore, type ZedTokenStore } from '../src/engine/consistency/zedtoken-store.js'
import { RedisZedTokenStore } from '../src/stores/redis-zedtoken-store.js'
import { READ_YOUR_WRITES } from '../src/domain/wire/consistency.js'

const N = Number(process.env.BENCH_N ?? 4000)
const WRITES = Math.max(200, Math.floor(N / 4))
const CONCURRENCY = 64
const WRITERS = 16
const WRITE_EVERY = 50
const schema = readFileSync(new URL('../schema.zed', import.meta.url), 'utf8')

const item = (i: number): CheckItem => ({
  resource: { type: 'organization', id: `o${i % 100}` },
  permission: 'can_manage_branding',
  subject: { type: 'user', id: `u${i % 7}` },
})
const grant = (i: number, operation: 'touch' | 'delete'): RelationshipUpdate[] => [
  {
    operation,
    relationship: { resource: { type: 'organization', id: `o${i % 100}` }, relation: 'manage_branding', subject: { type: 'user', id: `u${i % 7}` } },
  },
]

async function pool(n: number, concurrency: number, fn: (i: number) => Promise<unknown>) {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++)
    }),
  )
}

async function rate(n: number, work: () => Promise<void>): Promise<number> {
  const t0 = performance.now()
  await work()
  return n / ((performance.now() - t0) / 1000)
}

interface Scenario {
  name: string
  engine: EnginePort
  consistency: Consistency
  close(): Promise<void>
}

async function scenario(name: string, serializeWrites: boolean, store?: (e: EnginePort) => Promise<ZedTokenStore>, endpoint?: string): Promise<Scenario> {
  const raw = endpoint
    ? createRemoteEngine({ endpoints: [endpoint], presharedKey: process.env.SPICEDB_PRESHARED_KEY ?? '', insecure: true, timeoutMs: 30_000 })
    : await createEmbeddedEngine({ timeoutMs: 30_000, serializeWrites })
  await raw.writeSchema(schema)
  const engine = store ? new ReadYourWritesEngine(raw, await store(raw)) : raw
  return { name, engine, consistency: store ? READ_YOUR_WRITES : { mode: 'fully_consistent' }, close: () => raw.close() }
}

async function run(s: Scenario) {
  const checks = await rate(N, () =>
    pool(N, CONCURRENCY, async (i) => {
      if (i % WRITE_EVERY === 0) await s.engine.writeRelationships(grant(i, i % 2 ? 'delete' : 'touch'))
      await s.engine.check([item(i)], s.consistency)
    }),
  )
  const writes = await rate(WRITES, () => pool(WRITES, WRITERS, (i) => s.engine.writeRelationships(grant(i, i % 2 ? 'delete' : 'touch'))))
  return { name: s.name, checks, writes }
}

const redisUrl = process.env.BENCH_REDIS_URL
const redis = redisUrl ? new Redis(redisUrl) : undefined
const scenarios = [
  await scenario('before: fully_consistent, concurrent writes', false),
  await scenario('after: read-your-writes (in-process tokens), serialized writes', true, async () => new MemoryZedTokenStore()),
]
if (redis) {
  scenarios.push(
    await scenario(
      'after: read-your-writes (Redis tokens), serialized writes',
      true,
      async (e) => new RedisZedTokenStore(redis, { datastoreId: decodeZedToken(await e.headToken())?.datastoreId ?? '', prefix: `bench:${Date.now()}:` }),
    ),
  )
}
const endpoint = process.env.SPICEDB_ENDPOINT
if (endpoint) {
  scenarios.push(
    await scenario('remote before: fully_consistent', false, undefined, endpoint),
    await scenario('remote after: read-your-writes (in-process tokens)', false, async () => new MemoryZedTokenStore(), endpoint),
  )
}
// Warm up each once, then measure.
for (const s of scenarios) await pool(200, CONCURRENCY, (i) => s.engine.check([item(i)], s.consistency))
// Scenarios take turns, ROUNDS times, and each reports its median: a noisy neighbour then
// slows every scenario alike instead of whichever happened to run at the time.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const runs = new Map<string, { checks: number[]; writes: number[] }>(scenarios.map((s) => [s.name, { checks: [], writes: [] }]))
for (let round = 0; round < ROUNDS; round++) {
  for (const s of scenarios) {
    const r = await run(s)
    runs.get(s.name)!.checks.push(r.checks)
    runs.get(s.name)!.writes.push(r.writes)
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const results = [...runs].map(([name, r]) => ({ name, checks: median(r.checks), writes: median(r.writes) }))
console.log(`checks: ${N} at concurrency ${CONCURRENCY} with a write every ${WRITE_EVERY}; writes: ${WRITES} by ${WRITERS} writers; median of ${ROUNDS} rounds`)
for (const r of results) {
  // each remote scenario compares with the remote "before", each embedded one with the embedded one
  const base = results.find((b) => b.name.startsWith('remote') === r.name.startsWith('remote'))!
  const stats = (scenarios.find((s) => s.name === r.name)?.engine as { stats?: object }).stats
  console.log(
    `${r.name.padEnd(66)} ${r.checks.toFixed(0).padStart(6)} checks/s (x${(r.checks / base.checks).toFixed(2)})  ${r.writes.toFixed(0).padStart(5)} writes/s (x${(r.writes / base.writes).toFixed(2)})${stats ? `  ${JSON.stringify(stats)}` : ''}`,
  )
}
for (const s of scenarios) await s.close()
await redis?.quit()
