/**
 * Issue 21: where the remote gateway's CPU goes. Starts `spicedb serve` (memory datastore) and
 * the gateway over gRPC to it with V8's CPU profiler on, both pinned to the SUT core; loads the
 * benchmark business through POST /v1/import; drives BENCH_SECONDS of distinct checks from
 * bench/loadgen.mjs on the other core; stops the gateway (the profile is written on exit) and
 * prints its self time grouped by where the code lives (our src/, each package, Node itself)
 * and the hottest functions. Percentages of the gateway's own CPU survive a busy machine.
 *
 *   npm run bench:profile             # BENCH_ORGS=10 BENCH_SECONDS=10 BENCH_MODE=default
 *   BENCH_MODE=fully_consistent npm run bench:profile
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { generateData, randomChecks } from './data.js'
import { freePort, waitFor } from './compare/proc.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ORGS = Number(process.env.BENCH_ORGS ?? 10)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const MODE = process.env.BENCH_MODE ?? 'default'
const SUT = process.env.BENCH_SUT_CPUS ?? '1'
const LOAD = process.env.BENCH_LOAD_CPUS ?? '0'
const spicedbBin =
  process.env.SPICEDB_BIN ?? path.join(os.homedir(), '.cache/trellis/bin', `spicedb-${readFileSync(path.join(root, 'SPICEDB_VERSION'), 'utf8').trim()}`)

const children: ChildProcess[] = []
const start = (cpus: string, cmd: string, args: string[], env: Record<string, string | undefined> = {}) => {
  const c = spawn('taskset', ['-c', cpus, cmd, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(c)
  return c
}

const key = randomBytes(12).toString('hex')
const grpc = `127.0.0.1:${await freePort()}`
start(SUT, spicedbBin, [
  'serve',
  `--grpc-addr=${grpc}`,
  `--grpc-preshared-key=${key}`,
  '--datastore-engine=memory',
  '--http-enabled=false',
  '--metrics-enabled=false',
  '--telemetry-endpoint=',
  '--skip-release-check',
  '--log-level=warn',
  '--dispatch-cluster-enabled=false',
])
const profDir = mkdtempSync(path.join(os.tmpdir(), 'trellis-prof-'))
const port = await freePort()
const gateway = start(SUT, process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--import', 'tsx', 'src/server.ts'], {
  PORT: String(port),
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  SPICEDB_ENDPOINT: grpc,
  SPICEDB_PRESHARED_KEY: key,
  SPICEDB_INSECURE: 'true',
  REDIS_URL: undefined,
  API_KEYS: undefined,
  WORKERS: undefined,
  EVENTS_STREAM_ENABLED: 'false',
  EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true',
})
const base = `http://127.0.0.1:${port}`
await waitFor('gateway', async () => (await fetch(`${base}/readyz`)).ok, 60)
const ndjson =
  generateData(ORGS)
    .map((r) => JSON.stringify({ relationship: r }))
    .join('\n') + '\n'
const imported = await fetch(`${base}/v1/import`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson })
if (!imported.ok) throw new Error(`import answered ${imported.status}: ${await imported.text()}`)

const checks = randomChecks(ORGS, 20_000, 7)
const consistency = MODE === 'default' ? {} : { consistency: { mode: MODE } }
const jobDir = mkdtempSync(path.join(os.tmpdir(), 'trellis-load-'))
writeFileSync(
  path.join(jobDir, 'job.json'),
  JSON.stringify({
    url: `${base}/v1/check`,
    headers: { 'content-type': 'application/json' },
    connections: 16,
    seconds: SECONDS,
    warmupSeconds: 1,
    workers: 2,
    bodies: checks.map((c) => JSON.stringify({ resource: `client:${c.resourceId}`, permission: c.permission, subject: `user:${c.userId}`, ...consistency })),
  }),
)
const load = spawn('taskset', ['-c', LOAD, process.execPath, 'bench/loadgen.mjs', path.join(jobDir, 'job.json')], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
})
let out = ''
load.stdout!.on('data', (b: Buffer) => (out += b.toString()))
await new Promise((r) => load.once('exit', r))
const loadEnded = performance.now()
const result = JSON.parse(out.trim().split('\n').at(-1)!) as { requests: number; seconds: number; errors: number; p50: number; p99: number }
gateway.kill('SIGTERM')
await new Promise((r) => gateway.once('exit', r))
const tailMs = performance.now() - loadEnded
for (const c of children) c.kill('SIGKILL')

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))!
const profile = JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; endTime: number }
// only the samples of the measured seconds: not start-up, the import, the warm-up or shutdown
const times: number[] = []
profile.timeDeltas.reduce((t, d, i) => (times[i] = t + d), 0)
const last = times.at(-1)!
const [from, to] = [last - (tailMs + SECONDS * 1000) * 1000, last - tailMs * 1000]
const hits = new Map<number, number>()
profile.samples.forEach((s, i) => {
  if (times[i]! >= from && times[i]! <= to) hits.set(s, (hits.get(s) ?? 0) + 1)
})
const where = (url: string) => {
  if (!url) return '(native, GC, idle)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (url.startsWith('node:'))
    return /http2/.test(url)
      ? 'node core: http2 (the gRPC client)'
      : /_http|internal\/http/.test(url)
        ? 'node core: http (the REST server)'
        : /net|stream|dns/.test(url)
          ? 'node core: sockets and streams'
          : 'node core: other'
  if (url.includes(`${root}/src/`)) return `src/${url.split(`${root}/src/`)[1]!.split('/').slice(0, -1).join('/') || '.'}`
  return url
}
const byWhere = new Map<string, number>()
const byFunction = new Map<string, number>()
let busy = 0
for (const n of profile.nodes) {
  const h = hits.get(n.id) ?? 0
  if (!h) continue
  const fn = n.callFrame.functionName
  if (fn === '(idle)' || fn === '(program)') continue
  busy += h
  const w = fn === '(garbage collector)' ? '(garbage collector)' : where(n.callFrame.url)
  byWhere.set(w, (byWhere.get(w) ?? 0) + h)
  const label = `${fn || '(anonymous)'} ${n.callFrame.url ? `${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : ''} [${w}]`
  byFunction.set(label, (byFunction.get(label) ?? 0) + h)
}
const pct = (h: number) => `${((100 * h) / busy).toFixed(1).padStart(5)}%`
console.log(
  `remote gateway, ${MODE} checks: ${(result.requests / result.seconds).toFixed(0)}/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.errors} errors (SpiceDB and the gateway on cpu ${SUT}, load on ${LOAD})`,
)
console.log(`\nthe gateway's busy CPU by where the code lives (idle excluded; ${busy} samples):`)
for (const [w, h] of [...byWhere].sort((a, b) => b[1] - a[1]).slice(0, 16)) console.log(`  ${pct(h)}  ${w}`)
console.log('\nhottest functions (self time):')
for (const [f, h] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${pct(h)}  ${f}`)
console.log(`\nprofile: ${path.join(profDir, file)} (open in Chrome DevTools)`)
