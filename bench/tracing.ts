/**
 * What tracing costs, against baselines in the same run (ratios, not times, because these
 * machines are noisy). Off (the default) the request path has no tracing hook at all, and each
 * engine call pays only the latency histogram: row 2 against row 1. On, with spans kept in
 * memory: rows 3 and 5.
 *
 *   npx tsx bench/tracing.ts            (BENCH_N checks per row, default 3000)
 */
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node'
import client from 'prom-client'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { InstrumentedEngine } from '../src/engine/instrumented.js'
import type { CheckItem, EnginePort } from '../src/engine/port.js'

const N = Number(process.env.BENCH_N ?? 3000)
const ROUNDS = 3
const env = { ...process.env, SPICEDB_ENDPOINT: undefined, REDIS_URL: undefined, EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true', LOG_LEVEL: 'silent' }
const question = { resource: 'program:p1', permission: 'run', subject: 'user:ana' }
const item: CheckItem = { resource: { type: 'program', id: 'p1' }, permission: 'run', subject: { type: 'user', id: 'ana' } }

async function rate(work: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 200; i++) await work() // warm up
  const start = performance.now()
  for (let i = 0; i < N; i++) await work()
  return N / ((performance.now() - start) / 1000)
}

const spans = new InMemorySpanExporter()
const tracerProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
const off = await buildApp({ logger: false, config: loadConfig(env) })
const on = await buildApp({ logger: false, config: loadConfig(env), tracing: { tracerProvider } })
try {
  for (const app of [off, on]) {
    await app.inject({
      method: 'POST',
      url: '/v1/relationships',
      payload: { updates: [{ operation: 'touch', relationship: 'program:p1#facilitator@user:ana' }] },
    })
  }
  const raw: EnginePort = off.gateway.adapter
  const histogram = new client.Histogram({ name: 'bench_engine_seconds', help: 'bench', labelNames: ['method', 'outcome'], registers: [] })
  const measured = new InstrumentedEngine(raw, histogram)
  const traced = new InstrumentedEngine(raw, histogram, tracerProvider.getTracer('bench'))
  const consistency = { mode: 'minimize_latency' as const }
  const check = (app: typeof off) => () => app.inject({ method: 'POST', url: '/v1/check', payload: question })

  const scenarios: [string, () => Promise<unknown>][] = [
    ['engine.check, adapter alone (baseline)', () => raw.check([item], consistency)],
    ['engine.check, measured, tracing off', () => measured.check([item], consistency)],
    ['engine.check, measured, tracing on', () => (spans.reset(), traced.check([item], consistency))],
    ['POST /v1/check, tracing off (baseline)', check(off)],
    ['POST /v1/check, tracing on', () => (spans.reset(), check(on)())],
  ]
  // interleaved rounds, best of each: the first rounds warm the JIT and the engine's caches
  const best = scenarios.map(() => 0)
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, work]] of scenarios.entries()) best[i] = Math.max(best[i]!, await rate(work))
  }
  const rows = scenarios.map(([name], i) => [name, best[i]!] as const)
  console.log(`N=${N} sequential calls per row, best of ${ROUNDS} interleaved rounds, embedded in-memory engine\n`)
  console.log('| row | calls/s | ratio to its baseline |\n|---|---:|---:|')
  for (const [i, [name, r]] of rows.entries()) {
    const base = i < 3 ? rows[0]![1] : rows[3]![1]
    console.log(`| ${name} | ${Math.round(r)} | ${(r / base).toFixed(2)} |`)
  }
  const perCallUs = (1 / rows[1]![1] - 1 / rows[0]![1]) * 1e6
  const httpUs = 1e6 / rows[3]![1]
  console.log(
    `\noff: the measuring costs ${perCallUs.toFixed(2)} µs per engine call, ${((100 * perCallUs) / httpUs).toFixed(2)}% of one HTTP check (${httpUs.toFixed(0)} µs)`,
  )
} finally {
  await off.close()
  await on.close()
  await tracerProvider.shutdown()
}
