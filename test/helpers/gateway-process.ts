/**
 * The gateway as a real process (`src/server.ts` under tsx), for what only a process shows:
 * signals, SIGKILL, exit codes. It listens on a free port (PORT=0) and the address is read
 * from its "Server listening at" log line. `durableEngineEnv` gives it an engine whose state
 * outlives the process: on the remote leg a `spicedb serve` on a fresh Postgres database, on
 * the embedded leg the embedded engine on such a database (SPICEDB_DATASTORE_ENGINE=postgres).
 */
import type { Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import path from 'node:path'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { testEngine } from './app.js'
import { createDatabase, remoteParts, startSpiceDb, type SpiceDbServer } from './engine-remote.js'

const root = path.resolve(import.meta.dirname, '../..')

export interface GatewayProcess {
  proc: ChildProcess
  address: string
  /** resolves with the exit code (null when killed by a signal) and the signal */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stderr: () => string
  /** the last of what it printed on stdout (its log lines) */
  stdout: () => string
}

export async function startGateway(t: Test, env: Record<string, string | undefined>): Promise<GatewayProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  let out = ''
  proc.stdout!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-8000)))
  proc.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-8000)))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  )
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    await exited
  })
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not listen within 60 s: ${err}`)), 60_000)
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    void exited.then(({ code }) => {
      clearTimeout(timer)
      reject(new Error(`gateway exited (${code}) before listening: ${err}`))
    })
  })
  return { proc, address, exited, stderr: () => err, stdout: () => out }
}

/** Engine settings for gateway processes that share one durable state; undefined when the parts are missing. */
export async function durableEngineEnv(t: Test): Promise<{ env: Record<string, string>; describe: string } | { missing: string }> {
  const parts = remoteParts()
  if ('missing' in parts) return parts
  const db = await createDatabase(parts.bin, parts.postgresUrl)
  let server: SpiceDbServer | undefined
  t.teardown(async () => {
    await server?.stop()
    await db.drop()
  })
  if (testEngine() === 'remote') {
    server = await startSpiceDb(parts.bin, db.uri)
    return {
      env: { SPICEDB_ENDPOINT: server.endpoint, SPICEDB_PRESHARED_KEY: server.presharedKey, SPICEDB_INSECURE: 'true' },
      describe: `remote: spicedb serve on Postgres database ${db.name}`,
    }
  }
  return {
    env: { SPICEDB_DATASTORE_ENGINE: 'postgres', SPICEDB_DATASTORE_URI: db.uri },
    describe: `embedded on Postgres database ${db.name}`,
  }
}

/** An in-process gateway on the same durable engine, to read what the processes left. */
export async function readerApp(t: Test, engineEnv: Record<string, string>) {
  const app = await buildApp({
    logger: false,
    config: loadConfig({ ...process.env, REDIS_URL: undefined, SPICEDB_ENDPOINT: undefined, ...engineEnv, EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true' }),
  })
  t.teardown(() => app.close())
  return app
}

/** Every relationship of the given resource types, sorted. */
export async function relationshipsOf(app: Awaited<ReturnType<typeof readerApp>>, types: string[]): Promise<string[]> {
  const all: string[] = []
  for (const resourceType of types) {
    let cursor: string | undefined
    do {
      const res = await app.inject({ method: 'GET', url: '/v1/relationships', query: { resourceType, ...(cursor ? { cursor } : {}) } })
      if (res.statusCode !== 200) throw new Error(`GET /v1/relationships?resourceType=${resourceType}: ${res.statusCode} ${res.body}`)
      const body = res.json() as { relationships: string[]; cursor?: string }
      all.push(...body.relationships)
      cursor = body.cursor
    } while (cursor)
  }
  return all.sort()
}
