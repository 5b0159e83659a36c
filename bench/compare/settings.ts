/**
 * bench:compare's settings, from the environment (the list is in bench/compare.ts's header).
 */
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const env = process.env
export const smoke = env.BENCH_SMOKE === '1'
const num = (name: string, dflt: number, smokeValue = dflt) => Number(env[name] ?? (smoke ? smokeValue : dflt))
const list = (name: string, dflt: string) =>
  (env[name] ?? dflt)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

export type Datastore = 'memory' | 'postgres'
export type Workload = 'uniform' | 'skewed'

export const ORGS = num('BENCH_ORGS', 100, 3)
export const CHECKS = num('BENCH_CHECKS', 20_000, 500)
export const SECONDS = num('BENCH_SECONDS', 10, 1)
export const WARMUP = num('BENCH_WARMUP', 2, 0.5)
export const CONNECTIONS = num('BENCH_CONNECTIONS', 64, 16)
export const LOAD_CORES = num('BENCH_LOAD_CORES', 4, 1)
export const BULK = 100
export const DATASTORE = (env.BENCH_DATASTORE ?? 'memory') as Datastore
if (DATASTORE !== 'memory' && DATASTORE !== 'postgres') throw new Error(`BENCH_DATASTORE=${DATASTORE}: memory or postgres`)
export const POSTGRES_URL = env.BENCH_POSTGRES_URL || env.TEST_POSTGRES_URL
export const SYSTEMS = list('BENCH_SYSTEMS', 'spicedb-http,gateway-remote,gateway-remote-workers,gateway-embedded,gateway-embedded-npm')
export const WORKLOADS = list('BENCH_WORKLOADS', 'uniform,skewed') as Workload[]
for (const w of WORKLOADS) if (w !== 'uniform' && w !== 'skewed') throw new Error(`BENCH_WORKLOADS: ${w} is not uniform or skewed`)
/** Zipf exponent of the skewed workload */
export const ZIPF_S = num('BENCH_ZIPF_S', 1.1)
/** one write (a grant or a revoke) per this many checks in the skewed workload: 1% of calls */
export const WRITE_EVERY = num('BENCH_WRITE_EVERY', 99)
/** concurrent write streams per load generator thread, so that slow writes still make 1% */
export const WRITERS = num('BENCH_WRITERS', 4)
/** the latency leg: off with BENCH_LATENCY=0; the rate defaults to half of SpiceDB HTTP's peak */
export const LATENCY = env.BENCH_LATENCY !== '0'
export const LATENCY_RATE = env.BENCH_LATENCY_RATE ? Number(env.BENCH_LATENCY_RATE) : undefined
export const LATENCY_CONNECTIONS = num('BENCH_LATENCY_CONNECTIONS', 256, 64)
export const ENGINE_TIMEOUT_MS = env.BENCH_ENGINE_TIMEOUT_MS ?? '5000'
export const CPUS = os.cpus().length
export const SUT_CORE_LIST = (env.BENCH_SUT_CORES ?? String(Math.min(8, Math.max(1, CPUS - LOAD_CORES)))).split(',').map(Number)
export const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100)
