/**
 * One scenario against one system: a job file for bench/loadgen.mjs (its own process, pinned to
 * the load cores), the system's CPU time across it, and one row of figures.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CONNECTIONS, LATENCY_CONNECTIONS, LOAD_CORES, SECONDS, WARMUP, root } from './settings.js'
import { cpuMs, rssMiB, start, withChildren } from './proc.js'
import type { Mode, Target } from './systems.js'
import type { WriteJob } from './workloads.js'
import type { Workload } from './settings.js'

export interface Row {
  cores: number
  system: string
  workload: Workload
  /** `single <mode>` or `bulk 100 <mode>` */
  scenario: string
  mode: Mode
  bulk: boolean
  checksPerSec: number
  callsPerSec: number
  p50: number
  p99: number
  cpuMsPerCheck: number
  errors: number
  rssMiB: number
  /** the skewed workload's writes */
  writes?: { count: number; errors: number; p50: number; p99: number; stale: number; missed: number; verifies: number }
}

export interface LatencyRow {
  cores: number
  system: string
  mode: Mode
  rate: number
  achieved: number
  p50: number
  p99: number
  p999: number
  max: number
  errors: number
  late: number
}

interface LoadResult {
  requests: number
  total: number
  errors: number
  p50: number
  p99: number
  p999: number
  max: number
  late?: number
  firstError?: string
  writes?: number
  writeErrors?: number
  writeP50?: number
  writeP99?: number
  stale?: number
  missed?: number
  verifies?: number
  firstWriteError?: string
}

async function load(t: Target, job: Record<string, unknown>, loadCpus: string): Promise<{ result: LoadResult; cpuMs: number; rss: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-'))
  const jobFile = path.join(dir, 'job.json')
  writeFileSync(jobFile, JSON.stringify({ headers: t.headers, seconds: SECONDS, warmupSeconds: WARMUP, workers: LOAD_CORES, ...job }))
  // a gateway with WORKERS does its work in its children
  const pids = withChildren(t.pids)
  const cpu0 = pids.reduce((s, p) => s + cpuMs(p), 0)
  const gen = start(process.execPath, [path.join(root, 'bench/loadgen.mjs'), jobFile], loadCpus)
  const code = await new Promise<number | null>((r) => gen.once('exit', r))
  if (code !== 0) throw new Error(`load generator exited with ${code}`)
  const cpu1 = pids.reduce((s, p) => s + cpuMs(p), 0)
  const result = JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8')) as LoadResult
  return { result, cpuMs: cpu1 - cpu0, rss: pids.reduce((s, p) => s + rssMiB(p), 0) }
}

/** Saturated throughput: BENCH_CONNECTIONS calls in flight, closed loop. */
export async function drive(
  t: Target,
  workload: Workload,
  mode: Mode,
  bodies: string[],
  checksPerCall: number,
  loadCpus: string,
  cores: number,
  writes?: WriteJob,
): Promise<Row> {
  const bulk = checksPerCall > 1
  const scenario = `${bulk ? `bulk ${checksPerCall}` : 'single'} ${mode}`
  const { result, cpuMs, rss } = await load(t, { url: t.url + (bulk ? t.bulkPath : t.singlePath), bodies, connections: CONNECTIONS, writes }, loadCpus)
  if (result.firstError) console.error(`  ${t.name} ${workload} ${scenario}: first error: ${result.firstError}`)
  if (result.firstWriteError) console.error(`  ${t.name} ${workload} ${scenario}: first write error: ${result.firstWriteError}`)
  const callsPerSec = result.requests / SECONDS
  return {
    cores,
    system: t.name,
    workload,
    scenario,
    mode,
    bulk,
    checksPerSec: callsPerSec * checksPerCall,
    callsPerSec,
    p50: result.p50,
    p99: result.p99,
    // the writes and their checks are calls too, a few per hundred: counted with the checks
    cpuMsPerCheck: cpuMs / Math.max(1, result.total * checksPerCall + (result.writes ?? 0) + (result.verifies ?? 0)),
    errors: result.errors,
    rssMiB: rss,
    writes: writes
      ? {
          count: result.writes ?? 0,
          errors: result.writeErrors ?? 0,
          p50: result.writeP50 ?? NaN,
          p99: result.writeP99 ?? NaN,
          stale: result.stale ?? 0,
          missed: result.missed ?? 0,
          verifies: result.verifies ?? 0,
        }
      : undefined,
  }
}

/** A fixed rate, open loop: latency from each call's scheduled send time. */
export async function driveAtRate(t: Target, mode: Mode, bodies: string[], rate: number, loadCpus: string, cores: number): Promise<LatencyRow> {
  const { result } = await load(t, { url: t.url + t.singlePath, bodies, connections: LATENCY_CONNECTIONS, rate }, loadCpus)
  if (result.firstError) console.error(`  ${t.name} latency ${mode}: first error: ${result.firstError}`)
  return {
    cores,
    system: t.name,
    mode,
    rate,
    achieved: result.requests / SECONDS,
    p50: result.p50,
    p99: result.p99,
    p999: result.p999,
    max: result.max,
    errors: result.errors,
    late: result.late ?? 0,
  }
}
