/**
 * WORKERS: several gateway processes on one port (src/cluster.ts). Started as a real process,
 * since only a process shows forks, signals and exit codes. What must hold:
 * - a configuration the workers could not share (an in-memory datastore, no Redis) is refused
 *   at the start, naming the setting;
 * - the workers really are separate processes serving one port;
 * - a check on any worker sees a write acknowledged by any other (read-your-writes), and a
 *   revoke is never answered allowed, over hundreds of rounds where each request is a new
 *   connection (the primary hands connections to the workers in turn);
 * - one scrape of /metrics counts every worker's requests;
 * - a worker that dies is replaced, and SIGTERM stops them all, exiting 0.
 */
import t from 'tap'
import http from 'node:http'
import { readdirSync, readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { ConfigError, loadConfig } from '../src/config.js'
import { requirePart } from './helpers/app.js'
import { durableEngineEnv, startGateway, type GatewayProcess } from './helpers/gateway-process.js'

const redisUrl = process.env.TEST_REDIS_URL
const ROUNDS = Number(process.env.WORKERS_ROUNDS ?? 200)

t.test('a configuration the workers could not share is refused, naming the setting', async (t) => {
  const refused = (env: Record<string, string>) => {
    try {
      loadConfig({ PATH: process.env.PATH, ...env })
      return 'accepted'
    } catch (err) {
      t.ok(err instanceof ConfigError, 'a ConfigError')
      return (err as Error).message
    }
  }
  t.match(refused({ WORKERS: '2' }), /WORKERS=2: the embedded engine's in-memory datastore lives in one process/)
  t.match(
    refused({ WORKERS: '3', SPICEDB_DATASTORE_ENGINE: 'postgres', SPICEDB_DATASTORE_URI: 'postgres://x/y', EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true' }),
    /WORKERS=3: workers share write tokens .* through Redis; set REDIS_URL/,
  )
  t.match(refused({ WORKERS: '0' }), /invalid setting WORKERS/)
  t.match(refused({ WORKERS: 'many' }), /invalid setting WORKERS/)
  const ok = loadConfig({ WORKERS: '4', SPICEDB_ENDPOINT: 'h:1', SPICEDB_PRESHARED_KEY: 'k', REDIS_URL: 'redis://h' })
  t.equal(ok.workers, 4)
  t.equal(loadConfig({}).workers, 1, 'one process by default')
  t.ok(loadConfig({ WORKERS: 'auto', SPICEDB_ENDPOINT: 'h:1', SPICEDB_PRESHARED_KEY: 'k', REDIS_URL: 'redis://h' }).workers >= 1, 'auto: the available cores')
})

t.test('the server process refuses WORKERS on the in-memory engine with exit 1', async (t) => {
  const gw = startGateway(t, { WORKERS: '2', REDIS_URL: undefined, SPICEDB_ENDPOINT: undefined, SPICEDB_DATASTORE_ENGINE: undefined })
  await t.rejects(gw, /exited \(1\) before listening: .*WORKERS=2/s)
})

/** one request on a connection of its own, so that the primary picks a worker for it */
function send(address: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = http.request(`${address}${path}`, {
      method,
      agent: false,
      headers: { connection: 'close', ...(payload ? { 'content-type': 'application/json' } : {}) },
    })
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (text += c))
      res.on('end', () => {
        let parsed: unknown
        try {
          parsed = JSON.parse(text)
        } catch {
          parsed = undefined
        }
        resolve({ status: res.statusCode!, body: parsed, text })
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/** the gateway's worker processes: the primary's children */
function workerPids(primary: number): number[] {
  const pids: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === primary) pids.push(Number(d))
    } catch {
      // gone meanwhile
    }
  }
  return pids.sort()
}

async function until<T>(what: string, fn: () => T | Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (ok(v)) return v
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** the sum of a counter's samples in Prometheus text */
function counter(text: string, name: string): number {
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop())
  return sum
}

t.test('two workers on one port, over a shared engine and Redis', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const engine = await durableEngineEnv(t)
  if ('missing' in engine) {
    requirePart(t, engine.missing, false)
    return
  }
  const tag = randomBytes(4).toString('hex')
  const gw: GatewayProcess = await startGateway(t, {
    ...engine.env,
    WORKERS: '2',
    REDIS_URL: redisUrl,
    // this test's own streams, so that parallel test files never read each other's
    EVENTS_STREAM: `trellis:test:${tag}:events`,
    AUDIT_STREAM: `trellis:test:${tag}:audit`,
  })
  const primary = gw.proc.pid!
  const pids = await until('worker processes', () => workerPids(primary), (p) => p.length === 2)
  t.equal(pids.length, 2, `two worker processes under the primary (${engine.describe})`)
  t.notOk(pids.includes(primary), 'the primary serves nothing itself')

  // Read-your-writes across workers: 4 loops, each grant/check/revoke/check on new connections.
  let staleAllows = 0
  let invisibleGrants = 0
  let checks = 0
  const failures: string[] = []
  const loops = 4
  await Promise.all(
    Array.from({ length: loops }, async (_, i) => {
      const resource = `organization:w${tag}-${i}`
      const subject = `user:w${tag}-u${i}`
      const relationship = `${resource}#manage_branding@${subject}`
      const check = async () => {
        const r = await send(gw.address, 'POST', '/v1/check', { resource, permission: 'can_manage_branding', subject })
        checks++
        if (r.status !== 200) throw new Error(`check: ${r.status} ${r.text}`)
        return r.body.allowed as boolean
      }
      for (let c = 0; c < ROUNDS / loops && failures.length < 5; c++) {
        try {
          for (const operation of ['touch', 'delete'] as const) {
            const w = await send(gw.address, 'POST', '/v1/relationships', { updates: [{ operation, relationship }] })
            if (w.status !== 200) throw new Error(`${operation}: ${w.status} ${w.text}`)
            const allowed = await check()
            if (operation === 'touch' && !allowed) invisibleGrants++
            if (operation === 'delete' && allowed) staleAllows++
          }
        } catch (err) {
          failures.push(String(err))
        }
      }
    }),
  )
  t.comment(`${ROUNDS} rounds through 2 workers: ${staleAllows} stale allows, ${invisibleGrants} invisible grants`)
  t.same(failures, [], 'no request failed')
  t.equal(staleAllows, 0, 'no check after an acknowledged revoke answered allowed, on any worker')
  t.equal(invisibleGrants, 0, 'no check after an acknowledged grant answered not allowed, on any worker')

  // One scrape counts every worker's checks (each request above went to one worker or the other).
  const metrics = await send(gw.address, 'GET', '/metrics')
  t.equal(metrics.status, 200)
  t.equal(counter(metrics.text, 'trellis_checks_total'), checks, `trellis_checks_total counts all ${checks} checks, whichever worker answered`)

  // A worker killed outright is replaced, and the port keeps answering.
  process.kill(pids[0]!, 'SIGKILL')
  const after = await until('a replacement worker', () => workerPids(primary), (p) => p.length === 2 && !p.includes(pids[0]!))
  t.equal(after.length, 2, 'a new worker took the dead one\'s place')
  const health = await until('answers after the replacement', () => send(gw.address, 'GET', '/healthz'), (r) => r.status === 200)
  t.equal(health.status, 200)

  // SIGTERM to the primary stops every worker gracefully; the primary exits 0.
  gw.proc.kill('SIGTERM')
  const exit = await gw.exited
  t.same(exit, { code: 0, signal: null }, `the primary exits 0 after its workers stopped${exit.code ? `: ${gw.stderr()}\n${gw.stdout().split('\n').filter((l) => !l.includes('"request"')).slice(-15).join('\n')}` : ''}`)
  t.same(after.filter((p) => { try { process.kill(p, 0); return true } catch { return false } }), [], 'no worker outlives the primary')
})
