/**
 * The latency leg: every system at one fixed rate, half of SpiceDB HTTP's measured peak in the
 * same run (single uniform checks, fully consistent) unless BENCH_LATENCY_RATE says otherwise,
 * open loop (bench/loadgen.mjs measures each call from its scheduled send time), so the
 * percentiles compare the systems at the same offered load rather than each at its own pace.
 */
import type { BenchCheck } from '../data.js'
import { LATENCY_RATE } from './settings.js'
import { driveAtRate, type LatencyRow, type Row } from './drive.js'
import type { Mode, Target } from './systems.js'

/** the rate: BENCH_LATENCY_RATE, else half of spicedb-http's uniform single fully consistent peak */
export function latencyRate(rows: Row[], cores: number): number | undefined {
  if (LATENCY_RATE) return LATENCY_RATE
  const peak = rows.find((r) => r.cores === cores && r.system === 'spicedb-http' && r.workload === 'uniform' && r.scenario === 'single fully_consistent')
  return peak && peak.checksPerSec > 0 ? Math.max(1, Math.round(peak.checksPerSec / 2)) : undefined
}

/** SpiceDB fully consistent (the baseline); each gateway in its default mode and fully consistent */
const latencyModes = (t: Target): Mode[] => (t.name === 'spicedb-http' ? ['fully_consistent'] : ['default', 'fully_consistent'])

export async function latencyLeg(targets: Target[], checks: BenchCheck[], rate: number, loadCpus: string, cores: number): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = []
  for (const t of targets) {
    for (const mode of latencyModes(t)) {
      const row = await driveAtRate(
        t,
        mode,
        checks.map((c) => t.single(c, mode)),
        rate,
        loadCpus,
        cores,
      )
      rows.push(row)
      console.log(
        `  ${t.name} at ${rate}/s ${mode}: p50 ${row.p50} ms, p99 ${row.p99} ms, p99.9 ${row.p999} ms, ${Math.round(row.achieved)}/s answered, errors ${row.errors}`,
      )
    }
  }
  return rows
}
