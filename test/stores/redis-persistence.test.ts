/**
 * A Redis that would lose the events stream or the idempotency records (no AOF and no RDB, or
 * eviction) stops the start and fails /readyz, unless REDIS_ALLOW_DATA_LOSS=true accepts it.
 * Each case runs on a redis-server of its own, so changing its settings disturbs no other suite.
 */
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { buildTestApp, requirePart } from '../helpers/app.js'
import { freePort, PrivateRedis, redisServerAvailable, testRedis } from '../fixtures/stream-support.js'

async function privateRedis(t: Test, opts: { appendonly: boolean; args?: string[] }): Promise<PrivateRedis> {
  const server = new PrivateRedis(await freePort())
  t.teardown(() => server.destroy())
  await server.start(opts)
  return server
}

const NO_CONFIG = ['--rename-command', 'CONFIG', '']

async function readyz(app: Awaited<ReturnType<typeof buildTestApp>>) {
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  return { status: res.statusCode, body: res.json() as { checks: Record<string, { ok: boolean; error?: string }> } }
}

t.test('a Redis without persistence stops the start, naming the setting that accepts it', async (t) => {
  if (!requirePart(t, 'redis-server binary', redisServerAvailable())) return
  const server = await privateRedis(t, { appendonly: false })
  await t.rejects(buildTestApp(t, { overrides: { redisUrl: server.url, events: { ...disabledStream } } }), {
    name: 'ConfigError',
    message: /would lose the events stream.*appendonly no, save "".*REDIS_ALLOW_DATA_LOSS=true/,
  })
  const app = await buildTestApp(t, { overrides: { redisUrl: server.url, redisAllowDataLoss: true, events: { ...disabledStream } } })
  t.equal((await readyz(app)).status, 200, 'accepted by REDIS_ALLOW_DATA_LOSS: ready')
})

t.test('with AOF the app starts and is ready; persistence turned off later fails /readyz', async (t) => {
  if (!requirePart(t, 'redis-server binary', redisServerAvailable())) return
  const server = await privateRedis(t, { appendonly: true })
  const app = await buildTestApp(t, { overrides: { redisUrl: server.url, events: { ...disabledStream } } })
  t.equal((await readyz(app)).status, 200)
  const admin = testRedis(t, server.url)
  await admin.config('SET', 'appendonly', 'no')
  let r = await readyz(app)
  t.equal(r.status, 503, 'a Redis that stopped persisting is not ready')
  t.match(r.body.checks.redis?.error, /keeps nothing across a restart/)
  // RDB snapshots are persistence too (turning the AOF back on would start a rewrite that
  // holds up the server's shutdown at teardown).
  await admin.config('SET', 'save', '3600 1')
  t.equal((await readyz(app)).status, 200, 'RDB snapshots: ready')
  await admin.config('SET', 'maxmemory', '1gb')
  await admin.config('SET', 'maxmemory-policy', 'volatile-lru')
  r = await readyz(app)
  t.equal(r.status, 503, 'a Redis that may evict idempotency records is not ready')
  t.match(r.body.checks.redis?.error, /evict keys.*volatile-lru/)
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  t.equal((await readyz(app)).status, 200, 'noeviction: ready again')
})

t.test('CONFIG disabled (managed Redis): INFO confirms AOF; without AOF the start is refused', async (t) => {
  if (!requirePart(t, 'redis-server binary', redisServerAvailable())) return
  const withAof = await privateRedis(t, { appendonly: true, args: NO_CONFIG })
  const app = await buildTestApp(t, { overrides: { redisUrl: withAof.url, events: { ...disabledStream } } })
  t.equal((await readyz(app)).status, 200, 'aof_enabled:1 read from INFO')
  const without = await privateRedis(t, { appendonly: false, args: NO_CONFIG })
  await t.rejects(buildTestApp(t, { overrides: { redisUrl: without.url, events: { ...disabledStream } } }), {
    name: 'ConfigError',
    message: /cannot be confirmed: CONFIG is not available/,
  })
})

t.test('the server process refuses such a Redis with exit 1 and says why', async (t) => {
  if (!requirePart(t, 'redis-server binary', redisServerAvailable())) return
  const server = await privateRedis(t, { appendonly: false })
  const tsx = path.resolve(import.meta.dirname, '../../node_modules/.bin/tsx')
  const r = spawnSync(tsx, [path.resolve(import.meta.dirname, '../../src/server.ts')], {
    env: { ...process.env, REDIS_URL: server.url, SPICEDB_ENDPOINT: '', PORT: '0', LOG_LEVEL: 'error' },
    encoding: 'utf8',
    timeout: 60_000,
  })
  t.equal(r.status, 1)
  t.match(r.stderr, /trellis: Redis at redis:\/\/127\.0\.0\.1:\d+\/? would lose .*REDIS_ALLOW_DATA_LOSS=true/)
})

/** These tests are about the Redis plugin: no stream consumer. */
const disabledStream = { streamEnabled: false, stream: 'unused', deadLetterStream: 'unused:dead', group: 'trellis', maxDeliveries: 5, batchConcurrency: 128 }
