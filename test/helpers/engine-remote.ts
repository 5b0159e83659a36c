/**
 * Real SpiceDB servers for tests, as local processes: a fresh Postgres database per server
 * group, `spicedb serve` on a free 127.0.0.1 port with a preshared key. Needs
 * TEST_POSTGRES_URL (scripts/postgres.sh start) and the binary from `npm run spicedb:install`
 * (SPICEDB_BIN, or found in the tools cache).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { v1 } from '@authzed/authzed-node'

/** the one pin, SPICEDB_VERSION at the root (scripts/spicedb-install.sh reads it too) */
export const SPICEDB_VERSION = readFileSync(new URL('../../SPICEDB_VERSION', import.meta.url), 'utf8').trim()
const run = promisify(execFile)

/** The pinned server binary: SPICEDB_BIN, else where scripts/spicedb-install.sh caches it. */
export function spicedbBinary(): string | undefined {
  if (process.env.SPICEDB_BIN) return existsSync(process.env.SPICEDB_BIN) ? process.env.SPICEDB_BIN : undefined
  const cache = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache')
  const dir = process.env.TRELLIS_TOOLS_DIR ?? path.join(cache, 'trellis', 'bin')
  const bin = path.join(dir, `spicedb-${SPICEDB_VERSION}`)
  return existsSync(bin) ? bin : undefined
}

export function testPostgresUrl(): string | undefined {
  return process.env.TEST_POSTGRES_URL || undefined
}

/** What a suite that starts its own servers needs, or why it cannot run here. */
export function remoteParts(): { bin: string; postgresUrl: string } | { missing: string } {
  const postgresUrl = testPostgresUrl()
  const bin = spicedbBinary()
  if (!postgresUrl) return { missing: 'Postgres (TEST_POSTGRES_URL; see scripts/postgres.sh)' }
  if (!bin) return { missing: 'a spicedb binary (SPICEDB_BIN; see npm run spicedb:install)' }
  return { bin, postgresUrl }
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

async function psql(url: string, sql: string): Promise<string> {
  const { stdout } = await run('psql', [url, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql])
  return stdout.trim()
}

async function migrate(bin: string, uri: string): Promise<void> {
  await run(bin, ['datastore', 'migrate', 'head', '--datastore-engine', 'postgres', '--datastore-conn-uri', uri, '--log-level', 'warn', '--skip-release-check'])
}

// Migrating costs ~0.6 s and cloning a migrated database ~0.2 s, so each Postgres cluster
// keeps one migrated template per SpiceDB version and every test database is a copy of it.
const TEMPLATE = `trellis_tpl_${SPICEDB_VERSION.replace(/\W/g, '_')}`
let template: Promise<void> | undefined

function ensureTemplate(bin: string, base: string): Promise<void> {
  template ??= (async () => {
    if (await psql(base, `SELECT 1 FROM pg_database WHERE datname = '${TEMPLATE}'`)) return
    // Migrate under a private name and rename at the end: a concurrent suite never clones a
    // half-migrated template, and the loser of a race drops its copy.
    const tmp = `trellis_tpl_tmp_${process.pid}_${randomBytes(3).toString('hex')}`
    await psql(base, `CREATE DATABASE ${tmp}`)
    try {
      await migrate(bin, withDatabase(base, tmp))
      await psql(base, `ALTER DATABASE ${tmp} RENAME TO ${TEMPLATE}`)
    } catch (err) {
      await psql(base, `DROP DATABASE IF EXISTS ${tmp}`)
      if (!(await psql(base, `SELECT 1 FROM pg_database WHERE datname = '${TEMPLATE}'`))) throw err
    }
  })()
  return template
}

export interface TestDatabase {
  name: string
  uri: string
  drop(): Promise<void>
  /**
   * This database's outage, the rest of the cluster untouched (as a restart looks to SpiceDB):
   * new connections are refused and the open ones are cut. `restore` lets them in again.
   */
  cutOff(): Promise<void>
  restore(): Promise<void>
}

/** A fresh, migrated SpiceDB database in the test cluster. */
export async function createDatabase(bin: string, base: string): Promise<TestDatabase> {
  await ensureTemplate(bin, base)
  const name = `trellis_t_${process.pid}_${randomBytes(4).toString('hex')}`
  await psql(base, `CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`)
  return {
    name,
    uri: withDatabase(base, name),
    drop: () => psql(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined),
    cutOff: () =>
      psql(
        base,
        `ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false; SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${name}'`,
      ).then(() => undefined),
    restore: () => psql(base, `ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`).then(() => undefined),
  }
}

async function freePort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as net.AddressInfo
  await new Promise((resolve) => srv.close(resolve))
  return port
}

export interface SpiceDbServer {
  endpoint: string
  presharedKey: string
  /** milliseconds from spawn until the server answered */
  startMs: number
  /** SIGTERM, then SIGKILL if it lingers */
  stop(): Promise<void>
  /** SIGKILL now: the crash a failover test needs */
  kill(): Promise<void>
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => proc.once('exit', () => resolve()))
}

/**
 * Resolves once a server answers gRPC (a missing schema is an answer); `gone` reports a
 * server that died while starting.
 */
export async function waitUntilServing(endpoint: string, key: string, gone: () => string | undefined = () => undefined): Promise<void> {
  const deadline = Date.now() + 30_000
  // Poll the port first: a gRPC client that meets a refused connection backs off a whole
  // second before it tries again, which would be most of a test's start-up.
  const [host, port] = [endpoint.slice(0, endpoint.lastIndexOf(':')), Number(endpoint.slice(endpoint.lastIndexOf(':') + 1))]
  while (!(await canConnect(host, port))) {
    const dead = gone()
    if (dead) throw new Error(dead)
    if (Date.now() > deadline) throw new Error(`spicedb on ${endpoint} did not listen within 30 s`)
    await new Promise((r) => setTimeout(r, 20))
  }
  const client = v1.NewClient(key, endpoint, v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS)
  try {
    for (;;) {
      const dead = gone()
      if (dead) throw new Error(dead)
      try {
        await client.promises.readSchema(v1.ReadSchemaRequest.create({}))
        return
      } catch (err) {
        const code = (err as { code?: number }).code
        if (code !== 14 && code !== 4) return // NOT_FOUND (no schema yet) means it is serving
      }
      if (Date.now() > deadline) throw new Error(`spicedb on ${endpoint} did not answer within 30 s`)
      await new Promise((r) => setTimeout(r, 25))
    }
  } finally {
    client.close()
  }
}

/** Starts `spicedb serve` on a migrated Postgres database and waits until it answers. */
export async function startSpiceDb(bin: string, datastoreUri: string, presharedKey = randomBytes(12).toString('hex'), atPort?: number): Promise<SpiceDbServer> {
  const started = Date.now()
  // atPort: a restart on the address clients already know
  const port = atPort ?? (await freePort())
  const endpoint = `127.0.0.1:${port}`
  // Flags that make a per-test server cheap: no HTTP gateway, metrics, dispatch server,
  // telemetry or release check; a small connection pool (many servers share one cluster).
  const args = [
    'serve',
    `--grpc-addr=${endpoint}`,
    `--grpc-preshared-key=${presharedKey}`,
    '--datastore-engine=postgres',
    `--datastore-conn-uri=${datastoreUri}`,
    '--datastore-conn-pool-read-max-open=4',
    '--datastore-conn-pool-read-min-open=1',
    '--datastore-conn-pool-write-max-open=2',
    '--datastore-conn-pool-write-min-open=1',
    // how far back this server reads the past: the gateway's HISTORY_RETENTION for a remote
    // engine (24h by default) must not exceed it (docs/history.md)
    '--datastore-gc-window=24h',
    '--http-enabled=false',
    '--metrics-enabled=false',
    '--dispatch-cluster-enabled=false',
    '--telemetry-endpoint=',
    '--skip-release-check',
    '--grpc-shutdown-grace-period=1s',
    '--log-level=warn',
  ]
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  proc.stderr!.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-4000)
  })
  const stop = async (signal: NodeJS.Signals) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill(signal)
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000)
    await exited(proc)
    clearTimeout(timer)
  }
  try {
    await waitUntilServing(endpoint, presharedKey, () => (proc.exitCode !== null ? `spicedb exited with ${proc.exitCode}: ${err}` : undefined))
  } catch (e) {
    await stop('SIGKILL')
    throw e
  }
  return { endpoint, presharedKey, startMs: Date.now() - started, stop: () => stop('SIGTERM'), kill: () => stop('SIGKILL') }
}

/** A fresh database with one server on it, torn down together. */
export async function startRemoteEngine(): Promise<{ endpoints: string[]; presharedKey: string; startMs: number; describe: string; close(): Promise<void> }> {
  const parts = remoteParts()
  if ('missing' in parts) throw new Error(`TRELLIS_TEST_ENGINE=remote needs ${parts.missing}`)
  const started = Date.now()
  const db = await createDatabase(parts.bin, parts.postgresUrl)
  let server: SpiceDbServer
  try {
    server = await startSpiceDb(parts.bin, db.uri)
  } catch (e) {
    await db.drop()
    throw e
  }
  return {
    endpoints: [server.endpoint],
    presharedKey: server.presharedKey,
    startMs: Date.now() - started,
    describe: `remote: local spicedb ${SPICEDB_VERSION} process on Postgres database ${db.name}`,
    close: async () => {
      await server.stop()
      await db.drop()
    },
  }
}

/** Gateway configuration for the given servers (Redis off, as buildTestApp does). */
export function remoteEnv(endpoints: string[], presharedKey: string, extra: Record<string, string> = {}) {
  return {
    ...process.env,
    REDIS_URL: undefined,
    EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true',
    SPICEDB_ENDPOINT: endpoints.join(','),
    SPICEDB_PRESHARED_KEY: presharedKey,
    SPICEDB_INSECURE: 'true',
    ...extra,
  }
}
