/** bench:compare's tables: every ratio is to SpiceDB HTTP, fully consistent, in the same run. */
import type { LatencyRow, Row } from './drive.js'

const f = (x: number) => (Number.isFinite(x) ? String(x) : '—')

/** the baseline of a row: spicedb-http fully consistent, same cores, workload and call shape */
function baseline(rows: Row[], r: Row): Row | undefined {
  return rows.find((b) => b.cores === r.cores && b.system === 'spicedb-http' && b.workload === r.workload && b.bulk === r.bulk && b.mode === 'fully_consistent')
}

export function throughputTable(rows: Row[]): string {
  const lines = [
    '| cores | workload | system | scenario | checks/s | calls/s | p50 ms | p99 ms | CPU ms/check | errors | RSS MiB | vs SpiceDB HTTP fully consistent |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    const b = baseline(rows, r)
    const ratio = b && b.checksPerSec > 0 ? `${(r.checksPerSec / b.checksPerSec).toFixed(2)}x` : '—'
    lines.push(
      `| ${r.cores} | ${r.workload} | ${r.system} | ${r.scenario} | ${Math.round(r.checksPerSec)} | ${Math.round(r.callsPerSec)} | ${f(r.p50)} | ${f(r.p99)} | ${r.cpuMsPerCheck.toFixed(3)} | ${r.errors} | ${r.rssMiB} | ${ratio} |`,
    )
  }
  return lines.join('\n')
}

/** the skewed workload's writes: how many, how fast, and whether any revoke was seen late */
export function writesTable(rows: Row[]): string {
  const lines = [
    '| cores | system | scenario | writes | write errors | write p50 ms | write p99 ms | checks after a write | missed grants | stale allows |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    if (!r.writes) continue
    const w = r.writes
    lines.push(`| ${r.cores} | ${r.system} | ${r.scenario} | ${w.count} | ${w.errors} | ${f(w.p50)} | ${f(w.p99)} | ${w.verifies} | ${w.missed} | ${w.stale} |`)
  }
  return lines.join('\n')
}

export function latencyTable(rows: LatencyRow[]): string {
  const lines = [
    '| cores | system | mode | offered/s | answered/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | sends >5 ms late | p99 vs SpiceDB HTTP |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    const b = rows.find((x) => x.cores === r.cores && x.system === 'spicedb-http' && x.mode === 'fully_consistent')
    const ratio = b && b.p99 > 0 ? `${(r.p99 / b.p99).toFixed(2)}x` : '—'
    lines.push(
      `| ${r.cores} | ${r.system} | ${r.mode} | ${r.rate} | ${Math.round(r.achieved)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.p999)} | ${f(r.max)} | ${r.errors} | ${r.late} | ${ratio} |`,
    )
  }
  return lines.join('\n')
}

/** issue 21's targets, met or missed by this run's figures (Postgres targets only on Postgres) */
export function targetsSummary(rows: Row[], latency: LatencyRow[], datastore: string): string[] {
  const out: string[] = []
  const pick = (cores: number, system: string, workload: string, mode: string) =>
    rows.find((r) => r.cores === cores && r.system === system && r.workload === workload && !r.bulk && r.mode === mode)
  const verdict = (ok: boolean) => (ok ? 'MET' : 'MISSED')
  for (const cores of [...new Set(rows.map((r) => r.cores))]) {
    const base = pick(cores, 'spicedb-http', 'uniform', 'fully_consistent')
    const skewBase = pick(cores, 'spicedb-http', 'skewed', 'fully_consistent')
    for (const system of ['gateway-remote', 'gateway-embedded']) {
      const u = pick(cores, system, 'uniform', 'fully_consistent')
      if (base && u) {
        const x = u.checksPerSec / base.checksPerSec
        out.push(
          `${cores} core(s), ${datastore}, uniform fully consistent, ${system}: ${x.toFixed(2)}x SpiceDB HTTP (target >= 1.0x${datastore === 'postgres' ? '' : ' on Postgres'}): ${verdict(x >= 1)}`,
        )
      }
      const s = pick(cores, system, 'skewed', 'default')
      if (skewBase && s) {
        const x = s.checksPerSec / skewBase.checksPerSec
        const stale = s.writes?.stale ?? 0
        out.push(
          `${cores} core(s), ${datastore}, skewed with writes, ${system} default: ${x.toFixed(2)}x SpiceDB HTTP fully consistent, ${stale} stale ` +
            `(target >= 5x with 0 stale${datastore === 'postgres' ? '' : ' on Postgres'}): ${verdict(x >= 5 && stale === 0)}`,
        )
      }
    }
    const lb = latency.find((r) => r.cores === cores && r.system === 'spicedb-http')
    for (const l of latency.filter((r) => r.cores === cores && r.system !== 'spicedb-http' && r.mode === 'default')) {
      if (!lb) break
      out.push(
        `${cores} core(s), ${datastore}, latency at ${l.rate}/s, ${l.system} default: p99 ${l.p99} ms against SpiceDB HTTP's ${lb.p99} ms (target <=): ${verdict(l.p99 <= lb.p99 && l.errors === 0)}`,
      )
    }
  }
  const stale = rows.filter((r) => (r.writes?.stale ?? 0) > 0)
  if (!rows.some((r) => r.writes)) out.push('stale allows: not counted (no skewed leg in this run)')
  else
    out.push(
      stale.length
        ? `STALE ALLOWS: ${stale.map((r) => `${r.system} ${r.scenario} ${r.writes!.stale}`).join(', ')}`
        : 'stale allows: 0 in every system and scenario',
    )
  return out
}
