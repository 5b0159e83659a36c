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

/** the gateway's worker processes: the primary's children that run the server (not tsx's esbuild) */
function workerPids(primary: number): number[] {
  const pids: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === primary && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('server.ts')) pids.push(Number(d))
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
  const pids = await until(
    'worker processes',
    () => workerPids(primary),
    (p) => p.length === 2,
  )
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
  const after = await until(
    'a replacement worker',
    () => workerPids(primary),
    (p) => p.length === 2 && !p.includes(pids[0]!),
  )
  t.equal(after.length, 2, "a new worker took the dead one's place")
  const health = await until(
    'answers after the replacement',
    () => send(gw.address, 'GET', '/healthz'),
    (r) => r.status === 200,
  )
  t.equal(health.status, 200)

  // A replacement killed while it starts (before it listens) is replaced in turn: the gateway
  // keeps serving on the other worker. Before, the primary took it for a failed start and stopped.
  process.kill(after[0]!, 'SIGKILL')
  const starting = await until(
    'a replacement starting',
    () => workerPids(primary),
    (p) => p.some((x) => !after.includes(x)),
    10_000,
  )
  process.kill(
    starting.find((x) => !after.includes(x))!,
    'SIGKILL',
  )
  const again = await until(
    'another replacement',
    () => workerPids(primary),
    (p) => p.length === 2 && !p.some((x) => starting.includes(x) && x !== after[1]),
    30_000,
  )
  t.equal(again.length, 2, 'the replacement killed while starting was replaced too')
  t.equal(gw.proc.exitCode, null, `the primary still runs${gw.proc.exitCode !== null ? `: ${gw.stderr().slice(-800)}` : ''}`)
  const checked = await send(gw.address, 'POST', '/v1/check', {
    resource: `organization:w${tag}-0`,
    permission: 'can_manage_branding',
    subject: `user:w${tag}-u0`,
  })
  t.equal(checked.status, 200, 'and answers checks')

  // SIGTERM to the primary stops every worker gracefully; the primary exits 0.
  gw.proc.kill('SIGTERM')
  const exit = await gw.exited
  t.same(
    exit,
    { code: 0, signal: null },
    `the primary exits 0 after its workers stopped${
      exit.code
        ? `: ${gw.stderr()}\n${gw
            .stdout()
            .split('\n')
            .filter((l) => !l.includes('"request"'))
            .slice(-15)
            .join('\n')}`
        : ''
    }`,
  )
  t.same(
    again.filter((p) => {
      try {
        process.kill(p, 0)
        return true
      } catch {
        return false
      }
    }),
    [],
    'no worker outlives the primary',
  )
})

/**
 * A worker SIGKILLed while callers keep arriving: the callers whose connections it held see
 * them close (a reset: they may retry), and none is left waiting past the gateway's own
 * timeouts. Before, node:cluster's primary kept its copy of a connection it had just handed to
 * the dying worker, and that caller got no answer at all (1 of 8 callers, in the attack run).
 */
t.test('a worker killed under load leaves no caller hanging', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const engine = await durableEngineEnv(t)
  if ('missing' in engine) return void requirePart(t, engine.missing, false)
  const tag = randomBytes(4).toString('hex')
  const gw = await startGateway(t, {
    ...engine.env,
    WORKERS: '2',
    REDIS_URL: redisUrl,
    REQUEST_TIMEOUT_MS: '5000',
    EVENTS_STREAM: `trellis:test:${tag}:events`,
    AUDIT_STREAM: `trellis:test:${tag}:audit`,
  })
  const primary = gw.proc.pid!
  await until(
    'worker processes',
    () => workerPids(primary),
    (p) => p.length === 2,
  )

  const WAIT_MS = 10_000 // twice the gateway's request timeout: an answer or a close comes well before
  const outcomes = { answered: 0, shed: 0, closed: 0, hung: 0, other: [] as string[] }
  let running = true
  const call = () =>
    new Promise<void>((resolve) => {
      const payload = JSON.stringify({ resource: `organization:k${tag}`, permission: 'administer', subject: `user:k${tag}` })
      const req = http.request(`${gw.address}/v1/check`, {
        method: 'POST',
        agent: false,
        headers: { connection: 'close', 'content-type': 'application/json' },
      })
      const timer = setTimeout(() => {
        outcomes.hung++
        req.destroy()
        resolve()
      }, WAIT_MS)
      const done = (f: () => void) => {
        clearTimeout(timer)
        f()
        resolve()
      }
      req.on('response', (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c))
        res.on('end', () =>
          done(() => {
            if (res.statusCode === 200) return void outcomes.answered++
            // a loaded machine sheds load (under-pressure): an answer, with retry-after, not a hang
            if (res.statusCode === 503 && /"code":"GW_OVERLOADED"/.test(body) && res.headers['retry-after']) return void outcomes.shed++
            outcomes.other.push(`status ${res.statusCode} ${body.slice(0, 200)}`)
          }),
        )
        res.on('error', () => done(() => outcomes.closed++))
      })
      req.on('error', (err: NodeJS.ErrnoException) =>
        done(() => (/ECONNRESET|EPIPE|socket hang up/.test(`${err.code} ${err.message}`) ? outcomes.closed++ : outcomes.other.push(err.message))),
      )
      req.end(payload)
    })
  const callers = Array.from({ length: 32 }, async () => {
    while (running) await call()
  })

  // Each kill takes the oldest worker, one that has served for seconds (a replacement killed
  // while it starts is replaced too, but counts against the restart budget of 5 a minute).
  const seenAt = new Map<number, number>(workerPids(primary).map((p) => [p, 0]))
  const KILLS = 3
  try {
    for (let k = 0; k < KILLS; k++) {
      const victim = [...seenAt].sort((a, b) => a[1] - b[1])[0]![0]
      await new Promise((r) => setTimeout(r, Math.max(700, seenAt.get(victim)! + 6000 - Date.now())))
      process.kill(victim, 'SIGKILL')
      seenAt.delete(victim)
      const now = await until(
        'a replacement worker',
        () => workerPids(primary),
        (p) => p.length === 2 && !p.includes(victim),
        20_000,
      )
      for (const p of now) if (!seenAt.has(p)) seenAt.set(p, Date.now())
    }
    await new Promise((r) => setTimeout(r, 1000))
  } catch (err) {
    t.comment(`the gateway's stderr: ${gw.stderr().slice(-1500)}`)
    throw err
  } finally {
    running = false
    await Promise.all(callers)
  }
  t.comment(`${KILLS} workers killed: ${outcomes.answered} answered, ${outcomes.shed} shed (503 overloaded), ${outcomes.closed} closed, ${outcomes.hung} hung`)
  t.equal(outcomes.hung, 0, `no caller waited ${WAIT_MS} ms without an answer or a close`)
  t.same(outcomes.other, [], 'every caller was answered 200, shed with 503 and retry-after, or saw its connection close')
  t.ok(outcomes.answered > 100, 'callers were answered throughout')
  gw.proc.kill('SIGTERM')
  t.same(await gw.exited, { code: 0, signal: null }, 'the gateway still stops cleanly')
})
