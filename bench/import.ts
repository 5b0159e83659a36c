/**
 * `npm run bench:import`: import into an empty engine through the gateway (POST /v1/import:
 * parse, judge I1-I8 over the whole set, spool, bulk import) against SpiceDB's own
 * ImportBulkRelationships over gRPC to a `spicedb serve`, of the same NDJSON file on the same
 * datastore, each into a fresh server, in one run, printed as a ratio; then the gateway's
 * export of what it imported, with the gateway process's RSS growth over import and export.
 *
 * Processes: each `spicedb serve` and the gateway (its own process, so its RSS is its own) run
 * pinned to BENCH_SUT_CPUS; this process (reading the file, sending it) to BENCH_LOAD_CPUS.
 *
 * Settings (environment):
 *   BENCH_RELATIONSHIPS=50000  about this many (whole organizations of bench/data.ts, 823 each);
 *                              1000000 is the Done-when's size (minutes on 2 cores)
 *   BENCH_DATASTORES=memory,postgres  postgres needs TEST_POSTGRES_URL (scripts/postgres.sh)
 *   BENCH_EMBEDDED=1           also import into a gateway on its embedded engine (its RSS then
 *                              holds the data itself, so its growth is not the gateway's cost)
 *   BENCH_SUT_CPUS=0, BENCH_LOAD_CPUS=1 (taskset lists; the default splits the cores in two)
 *   SPICEDB_BIN                the pinned server (default: `npm run spicedb:install`'s cache)
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { v1 } from '@authzed/authzed-node'
import { importPages } from '../src/engine/bulk.js'
import type { Relationship } from '../src/engine/port.js'
import { parseRelationship } from '../src/domain/wire/refs.js'
import { createDatabase, spicedbBinary, testPostgresUrl, waitUntilServing } from '../test/helpers/engine-remote.js'
import { generateData } from './data.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const env = process.env
const PER_ORG = 823
const wanted = Number(env.BENCH_RELATIONSHIPS ?? 50_000)
const orgs = Math.max(1, Math.ceil(wanted / PER_ORG))
const datastores = (env.BENCH_DATASTORES ?? 'memory,postgres').split(',')
const CPUS = os.cpus().length
const SUT = env.BENCH_SUT_CPUS ?? (CPUS > 1 ? `0-${Math.max(0, Math.floor(CPUS / 2) - 1)}` : '0')
const LOAD = env.BENCH_LOAD_CPUS ?? (CPUS > 1 ? `${Math.floor(CPUS / 2)}-${CPUS - 1}` : '0')
const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-cp', LOAD, String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`
const children = new Set<ChildProcess>()
const bin = spicedbBinary() ?? fail('no spicedb binary: npm run spicedb:install, or SPICEDB_BIN')
const schema = readFileSync(path.join(root, 'schema.zed'), 'utf8')

function fail(message: string): never {
  console.error(`bench:import: ${message}`)
  // no server of this run outlives it
  for (const c of children) c.kill('SIGKILL')
  process.exit(1)
}

function start(cmd: string, args: string[], extra: Record<string, string | undefined> = {}): ChildProcess {
  const [file, argv] = hasTaskset ? ['taskset', ['-c', SUT, cmd, ...args]] : [cmd, args]
  const child = spawn(file, argv, { cwd: root, env: { ...env, ...extra }, stdio: ['ignore', 'ignore', 'pipe'] })
  let tail = ''
  child.stderr!.on('data', (b: Buffer) => (tail = (tail + b.toString()).slice(-3000)))
  child.once('exit', (code, signal) => {
    if (children.has(child) && (code || signal)) console.error(`${cmd} exited (${code ?? signal}):\n${tail}`)
  })
  children.add(child)
  return child
}
async function stop(child: ChildProcess) {
  children.delete(child)
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await once(child, 'exit')
  clearTimeout(killer)
}
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

/** A fresh `spicedb serve` on the datastore, with the schema written. */
async function spicedb(datastore: string) {
  const key = randomBytes(12).toString('hex')
  const endpoint = `127.0.0.1:${await freePort()}`
  const db = datastore === 'postgres' ? await createDatabase(bin, testPostgresUrl() ?? fail('postgres needs TEST_POSTGRES_URL')) : undefined
  const store = db ? ['--datastore-engine=postgres', `--datastore-conn-uri=${db.uri}`] : ['--datastore-engine=memory']
  const proc = start(bin, [
    'serve',
    `--grpc-addr=${endpoint}`,
    `--grpc-preshared-key=${key}`,
    ...store,
    '--http-enabled=false',
    '--metrics-enabled=false',
    '--dispatch-cluster-enabled=false',
    '--telemetry-endpoint=',
    '--skip-release-check',
    '--log-level=warn',
  ])
  await waitUntilServing(endpoint, key)
  const client = v1.NewClient(key, endpoint, v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS)
  await client.promises.writeSchema(v1.WriteSchemaRequest.create({ schema }))
  return {
    endpoint,
    key,
    client,
    close: async () => {
      client.close()
      await stop(proc)
      await db?.drop()
    },
  }
}

/** The file's relationships, a page of 1,000 at a time, parsed as SpiceDB's own client would need them. */
async function* filePages(file: string): AsyncGenerator<Relationship[]> {
  let page: Relationship[] = []
  for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    const line = JSON.parse(text) as { relationship?: string; caveat?: Relationship['caveat'] }
    if (!line.relationship) continue
    const r = parseRelationship(line.relationship, 'bench')
    if (line.caveat) r.caveat = line.caveat
    page.push(r)
    if (page.length === 1000) {
      yield page
      page = []
    }
  }
  if (page.length) yield page
}

/** the process's resident memory now; 0 once it is gone (its exit is reported by start()) */
function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** Imports the file through a gateway process, exports it back; the gateway's RSS sampled throughout. */
async function throughGateway(file: string, count: number, engine: Record<string, string | undefined>) {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const gw = start(process.execPath, ['--import', 'tsx', path.join(root, 'src/server.ts')], {
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    REDIS_URL: undefined,
    API_KEYS: undefined,
    API_KEYS_FILE: undefined,
    WORKERS: undefined,
    EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true',
    EVENTS_STREAM_ENABLED: 'false',
    SPICEDB_TIMEOUT_MS: '600000',
    ...engine,
  })
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
      if (ok) break
      if (i > 1200 || gw.exitCode !== null) fail('the gateway did not become ready')
      await new Promise((r) => setTimeout(r, 100))
    }
    const rss0 = rss(gw.pid!)
    let peak = rss0
    const sampler = setInterval(() => (peak = Math.max(peak, rss(gw.pid!))), 50)
    let t0 = performance.now()
    let res: Response
    let answer: { count: number; changed: number; code?: string }
    // a gateway just started may still be busy (503 GW_OVERLOADED, sent before the body is read): again, shortly
    for (let tries = 0; ; tries++) {
      t0 = performance.now()
      res = await fetch(`${base}/v1/import`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: createReadStream(file) as unknown as BodyInit,
        duplex: 'half',
      } as RequestInit)
      answer = (await res.json()) as typeof answer
      if (res.status !== 503 || answer.code !== 'GW_OVERLOADED' || tries === 10) break
      await new Promise((r) => setTimeout(r, 1000))
    }
    const importMs = performance.now() - t0
    if (!res.ok || answer.count !== count) fail(`the gateway's import answered ${res.status} ${JSON.stringify(answer).slice(0, 2000)}`)
    const afterImport = peak
    t0 = performance.now()
    const exported = await fetch(`${base}/v1/export`)
    let bytes = 0
    let tail = ''
    for await (const chunk of exported.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length
      tail = (tail + Buffer.from(chunk).toString()).slice(-300)
    }
    const exportMs = performance.now() - t0
    clearInterval(sampler)
    const end = JSON.parse(tail.trim().split('\n').at(-1)!) as { count: number }
    if (end.count !== count) fail(`the export counts ${end.count} relationships, the import ${count}`)
    return { importMs, exportMs, bytes, rss0, importGrowth: afterImport - rss0, growth: peak - rss0 }
  } finally {
    await stop(gw)
  }
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-import-'))
const file = path.join(dir, 'export.ndjson')
try {
  const rels = generateData(orgs)
  const out = createWriteStream(file)
  for (const r of rels) if (!out.write(`{"relationship":${JSON.stringify(r)}}\n`)) await once(out, 'drain')
  out.end(`{"exportedAt":"bench","count":${rels.length}}\n`)
  await once(out, 'finish')
  const count = rels.length
  rels.length = 0
  console.log(`# bench:import: ${count} relationships (${orgs} organizations), file ${mb(statSync(file).size)}`)
  console.log(
    `SUT (spicedb serve, gateway) on cpus ${SUT}, this process on cpus ${LOAD}${hasTaskset ? '' : ' (taskset absent: not pinned)'}; Node ${process.version}, ${CPUS} cores`,
  )
  console.log(
    '| datastore | SpiceDB ImportBulkRelationships | gateway POST /v1/import | gateway / SpiceDB speed | gateway export | gateway RSS before | RSS growth: import / import+export |',
  )
  console.log('|---|---|---|---|---|---|---|')
  const rate = (ms: number) => `${(ms / 1000).toFixed(1)} s (${Math.round((count / ms) * 1000).toLocaleString('en')}/s)`
  const ratios: number[] = []
  for (const datastore of datastores) {
    const own = await spicedb(datastore)
    const t0 = performance.now()
    const loaded = await importPages(own.client, filePages(file))
    const ownMs = performance.now() - t0
    await own.close()
    if (loaded !== count) fail(`SpiceDB loaded ${loaded} of ${count}`)

    const target = await spicedb(datastore)
    const gw = await throughGateway(file, count, { SPICEDB_ENDPOINT: target.endpoint, SPICEDB_PRESHARED_KEY: target.key, SPICEDB_INSECURE: 'true' })
    await target.close()
    ratios.push(ownMs / gw.importMs)
    console.log(
      `| ${datastore} | ${rate(ownMs)} | ${rate(gw.importMs)} | ${(ownMs / gw.importMs).toFixed(2)}x | ${(gw.exportMs / 1000).toFixed(1)} s, ${mb(gw.bytes)} | ${mb(gw.rss0)} | ${mb(gw.importGrowth)} / ${mb(gw.growth)} |`,
    )
  }
  if (env.BENCH_EMBEDDED === '1') {
    const gw = await throughGateway(file, count, { SPICEDB_ENDPOINT: undefined })
    console.log(
      `| embedded (in-process memory; RSS holds the data) | - | ${rate(gw.importMs)} | - | ${(gw.exportMs / 1000).toFixed(1)} s | ${mb(gw.rss0)} | ${mb(gw.importGrowth)} / ${mb(gw.growth)} |`,
    )
  }
  console.log(
    `targets: gateway >= 0.5x SpiceDB's own bulk import (${ratios.map((r) => r.toFixed(2)).join(', ')}); RSS growth < 200 MB at 1,000,000 relationships`,
  )
} finally {
  for (const c of [...children]) await stop(c)
  rmSync(dir, { recursive: true, force: true })
}
