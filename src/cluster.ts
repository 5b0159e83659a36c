/**
 * Several gateway processes on one port (`WORKERS`), so one gateway host uses more than one
 * core. One Node process runs JavaScript on one core; SpiceDB beside it uses all of them, so a
 * single process caps the gateway at what one core can parse, route and serialize (issue 9:
 * 0.2x of SpiceDB's HTTP API on 16 cores).
 *
 * The primary process serves nothing itself: it forks the workers (node:cluster hands each
 * accepted connection to one of them), restarts one that dies, forwards signals, and answers
 * /metrics for all of them at once. Each worker is a whole gateway, exactly what a replica is,
 * so it keeps the replicas' guarantees by the same means (see loadConfig's checks):
 * - the engine is shared by every process (a SpiceDB server, or the embedded engine on a
 *   database), never an in-memory datastore that only one process could see;
 * - Redis is shared: write tokens (read-your-writes across workers), event ids, the audit
 *   trail and rate limits;
 * - lookup cursors are signed with one secret: CURSOR_SECRET, or one the primary makes.
 */
import cluster, { type Worker } from 'node:cluster'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import client from 'prom-client'
import type { Config } from './config.js'
import { ConnectionDispatcher, handOffServer, serveHandedConnections } from './connection-handoff.js'

const METRICS_REQUEST = 'trellis:metrics-request'
const METRICS_ANSWER = 'trellis:metrics-answer'
const STOP = 'trellis:stop'
const READY = 'trellis:ready'
/** a worker that dies this often within a minute is not restarted again: the gateway stops */
const MAX_RESTARTS_PER_MINUTE = 5
const STOP_GRACE_MS = 15_000

interface MetricsAnswer {
  type: typeof METRICS_ANSWER
  id: number
  text?: string
  error?: string
}

const LEVELS = { info: 30, warn: 40, error: 50 }
/** a log line in the workers' (pino's) format, so one log reader reads both */
const log = (level: keyof typeof LEVELS, msg: string, extra: Record<string, unknown> = {}) =>
  process.stdout.write(
    `${JSON.stringify({ level: LEVELS[level], time: Date.now(), pid: process.pid, hostname: hostname(), role: 'primary', ...extra, msg })}\n`,
  )

/** true in a worker process of a gateway started with WORKERS > 1 */
export const isClusterWorker = () => cluster.isWorker && process.env.TRELLIS_WORKER === '1'

/** In a worker: calls `stop` when the primary asks this worker to stop gracefully. */
export function onStopRequest(stop: () => void) {
  process.on('message', (m: { type?: string }) => m?.type === STOP && stop())
}

/**
 * In a worker, once its app is built: it serves the connections the primary hands it (the
 * worker listens on nothing itself; src/connection-handoff.ts says why).
 */
export function serveForPrimary(server: import('node:http').Server) {
  serveHandedConnections(server)
  process.send!({ type: READY })
}

/** A person's account of why the gateway could not listen, naming the setting to change. */
export function listenFailure(err: unknown, host: string, port: number): string | undefined {
  const code = (err as { code?: string }).code
  if (code === 'EADDRINUSE') return `port ${port} on ${host} is already in use; set PORT to a free port (PORT=0 picks any)`
  if (code === 'EACCES') return `not allowed to listen on port ${port} on ${host}; set PORT to 1024 or above`
  if (code === 'EADDRNOTAVAIL') return `${host} is not an address of this machine; set HOST (default 127.0.0.1)`
  return undefined
}

/**
 * In a worker: lets the primary read this worker's registry (prom-client's cluster protocol)
 * and returns a function that fetches every worker's metrics, aggregated, from the primary.
 */
export function clusterMetrics(registry: client.Registry): () => Promise<string> {
  client.AggregatorRegistry.setRegistries([registry])
  // the constructor installs prom-client's worker-side listener for the primary's requests
  new client.AggregatorRegistry()
  let next = 0
  const waiting = new Map<number, { resolve: (s: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>()
  process.on('message', (m: MetricsAnswer) => {
    if (m?.type !== METRICS_ANSWER) return
    const w = waiting.get(m.id)
    if (!w) return
    waiting.delete(m.id)
    clearTimeout(w.timer)
    if (m.text !== undefined) w.resolve(m.text)
    else w.reject(new Error(m.error ?? 'no metrics from the primary'))
  })
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++
      const timer = setTimeout(() => {
        waiting.delete(id)
        reject(new Error("the primary did not answer for the workers' metrics within 5 s"))
      }, 5000)
      waiting.set(id, { resolve, reject, timer })
      process.send!({ type: METRICS_REQUEST, id })
    })
}

/**
 * The primary: forks `config.workers` gateways and stays until they have all stopped. A worker
 * that fails before it listens stops the start (exit 1): the worker printed why.
 */
export async function runPrimary(config: Config): Promise<void> {
  const n = config.workers
  const env = {
    TRELLIS_WORKER: '1',
    // every worker must accept the cursors every other one signs
    CURSOR_SECRET: config.cursorSecret ?? randomBytes(32).toString('base64url'),
  }
  const aggregator = new client.AggregatorRegistry()
  // a connection waits this long for a worker while none is ready (all restarting)
  const dispatcher = new ConnectionDispatcher(config.requestTimeoutMs || 30_000)
  const server = handOffServer(dispatcher)
  let stopping = false
  let exitCode = 0
  const restarts: number[] = []

  cluster.on('message', (worker: Worker, m: { type?: string; id?: number }) => {
    if (m?.type !== METRICS_REQUEST) return
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: METRICS_ANSWER, id: m.id, text }),
      (err: Error) => worker.isConnected() && worker.send({ type: METRICS_ANSWER, id: m.id, error: err.message }),
    )
  })

  let allExited!: () => void
  const exited = new Promise<void>((resolve) => (allExited = resolve))
  const checkExited = () => setImmediate(() => stopping && Object.keys(cluster.workers ?? {}).length === 0 && allExited())
  cluster.on('exit', checkExited)

  const stopAll = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log('info', 'stopping the workers', { signal })
    server.close()
    dispatcher.close()
    // By message, not by signal: a Ctrl-C reaches the workers too (one process group), and a
    // second signal would cut their graceful stop short.
    for (const w of Object.values(cluster.workers ?? {})) {
      if (w) dispatcher.remove(w)
      if (w?.isConnected()) w.send({ type: STOP })
      else w?.process.kill(signal)
    }
    checkExited()
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL')
    }, STOP_GRACE_MS).unref()
  }

  /**
   * A worker died or a replacement never got to listen: another is started, unless workers keep
   * dying (more than MAX_RESTARTS_PER_MINUTE), which stops the gateway. A replacement killed
   * while it starts (the OOM killer, an operator) is not the gateway's failure to start.
   */
  const replace = (why: Record<string, unknown>) => {
    const now = Date.now()
    restarts.push(now)
    while (restarts.length && restarts[0]! < now - 60_000) restarts.shift()
    if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
      log('error', `workers died ${restarts.length} times within a minute; stopping`, why)
      exitCode = 1
      stopAll('SIGTERM')
      return
    }
    // A signal to the whole process group reaches the workers as it reaches the primary:
    // give the primary's own handler a moment before replacing a worker that stopped.
    setTimeout(() => {
      if (stopping) return
      log('warn', 'a worker stopped; starting another', why)
      fork().catch((err: Error) => replace({ reason: err.message }))
    }, 250)
  }

  /** forks one worker; resolves once it serves, rejects if it exits first */
  const fork = () =>
    new Promise<void>((resolve, reject) => {
      const w = cluster.fork(env)
      let listening = false
      const onReady = (m: { type?: string }) => {
        if (m?.type !== READY) return
        w.off('message', onReady)
        listening = true
        // asked to stop while it started (before it could hear the message): ask again now
        if (stopping) return void w.send({ type: STOP })
        dispatcher.add(w)
        resolve()
      }
      w.on('message', onReady)
      w.once('exit', (code, signal) => {
        dispatcher.exited(w)
        if (stopping) {
          if (code !== 0) exitCode = 1
          return
        }
        if (!listening) return reject(new Error(`a worker exited before listening (${signal ?? `exit ${code}`})`))
        // A worker that dies while serving is replaced; one that keeps dying stops the gateway.
        replace({ worker: w.process.pid, code, signal })
      })
    })

  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stopAll(signal))
  // SIGHUP re-reads API_KEYS_FILE in every worker (plugins/app/api-keys.ts); without one it stops
  process.on('SIGHUP', () => {
    if (!config.apiKeysFile) return stopAll('SIGTERM')
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP')
  })

  try {
    // The first worker alone: it writes the schema, so the others start on a settled one.
    await fork()
    await Promise.all(Array.from({ length: n - 1 }, fork))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(config.port, config.host, () => resolve())
    })
    const a = server.address() as import('node:net').AddressInfo
    const address = `http://${a.address}:${a.port}`
    // the line a worker's Fastify would print, so that one log reader finds the address
    log('info', `Server listening at ${address}`)
    log('info', `${n} workers serving ${address}`, { workers: n })
  } catch (err) {
    const reason = listenFailure(err, config.host, config.port) ?? (err as Error).message
    log('error', `the gateway did not start: ${reason}`)
    exitCode = 1
    stopAll('SIGTERM')
  }
  await exited
  process.exit(exitCode)
}
