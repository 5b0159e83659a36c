/**
 * One validated configuration, read from the environment at start-up: the settings
 * (src/settings.ts: types, bounds, defaults, said once) shaped for the code that uses them,
 * and the rules between settings. A bad setting stops the start with a message that names it.
 */
import { availableParallelism } from 'node:os'
import { ApiKeyError, parseKeyEntries } from './domain/callers/api-keys.js'
import { oidcSettings } from './domain/callers/jwt.js'
import { ConfigError, readSettings, type Settings } from './settings.js'

export { ConfigError, EnvSchema } from './settings.js'

/**
 * Settings whose values are secrets. No message from loadConfig prints a setting's value at
 * all; these are the ones that must never be printed or logged anywhere.
 */
export const SECRET_SETTINGS = ['API_KEYS', 'SPICEDB_PRESHARED_KEY', 'SPICEDB_DATASTORE_URI', 'REDIS_URL', 'CURSOR_SECRET'] as const

export type EngineConfig =
  | { kind: 'embedded'; datastore?: { engine: string; uri: string }; library?: string }
  | { kind: 'remote'; endpoints: string[]; presharedKey: string; insecure: boolean }

/** Fastify's trustProxy: which proxies' X-Forwarded-For to believe for the client address */
export type TrustProxy = boolean | string[] | ((address: string, hop: number) => boolean)

/** The configuration routes, plugins and engines read (see src/settings.ts for each setting). */
export type Config = ReturnType<typeof shape>

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return shape(readSettings(env))
}

function shape(e: Settings) {
  const oidc = oidcSettings(e)
  if (typeof oidc === 'string') throw new ConfigError(oidc)
  const engine = engineOf(e)
  refuseVolatileIdempotency(engine, e.REDIS_URL, e.EVENTS_ALLOW_VOLATILE_IDEMPOTENCY)
  const workers = e.WORKERS === 'auto' ? availableParallelism() : Number(e.WORKERS)
  refuseUnsharedWorkers(workers, e.WORKERS, engine, e.REDIS_URL)
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL as string,
    schemaFile: e.SCHEMA_FILE ?? new URL('../schema.zed', import.meta.url).pathname,
    engine,
    engineTimeoutMs: e.SPICEDB_TIMEOUT_MS,
    /** gateway processes sharing the port (src/cluster.ts); 1: this process serves alone */
    workers,
    checkCacheMax: e.CHECK_CACHE_MAX,
    redisUrl: e.REDIS_URL as string | undefined,
    redisAllowDataLoss: e.REDIS_ALLOW_DATA_LOSS,
    idempotencyTtlSeconds: e.IDEMPOTENCY_TTL_SECONDS,
    events: {
      streamEnabled: e.EVENTS_STREAM_ENABLED ?? Boolean(e.REDIS_URL),
      stream: e.EVENTS_STREAM,
      deadLetterStream: e.EVENTS_DEAD_LETTER_STREAM,
      group: e.EVENTS_CONSUMER_GROUP,
      maxDeliveries: e.EVENTS_MAX_DELIVERIES,
      /** events of one batch in flight at once, among those that cannot affect each other (1: strict order) */
      batchConcurrency: e.EVENTS_BATCH_CONCURRENCY,
    },
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    maxBulkItems: e.MAX_BULK_ITEMS,
    lookupSubjectsMax: e.LOOKUP_SUBJECTS_MAX,
    /** API_KEYS entries (`key`, `name:key` or `name:key:scope+scope`); with no file either: no authentication */
    apiKeys: apiKeyEntries(e.API_KEYS),
    apiKeysFile: e.API_KEYS_FILE as string | undefined,
    /** OIDC_*: JWT bearer tokens accepted beside the keys (domain/callers/jwt.ts) */
    oidc,
    metricsPublic: e.METRICS_PUBLIC,
    rateLimit: { windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS, authFailures: e.RATE_LIMIT_AUTH_FAILURES, perKey: e.RATE_LIMIT_PER_KEY },
    /** changes feeds: caps (per key, in this process) and how often an open one re-checks its key */
    feeds: { maxPerKey: e.FEEDS_MAX_PER_KEY, maxTotal: e.FEEDS_MAX, reauthSeconds: e.FEEDS_REAUTH_SECONDS },
    /** onboarding and backup bounds: an import body (streamed) and a reconcile body, apart from bodyLimitBytes */
    onboarding: { importMaxBytes: e.IMPORT_MAX_BYTES, reconcileMaxBytes: e.RECONCILE_MAX_BYTES, reconcileMaxEvents: e.RECONCILE_MAX_EVENTS },
    /** history (asOf, access changes): how far back, and how many revisions one call replays */
    history: {
      retentionMs: durationMs(e.HISTORY_RETENTION ?? (engine.kind === 'remote' ? '24h' : '90d')),
      maxRevisions: e.HISTORY_MAX_REVISIONS,
      maxScanned: e.HISTORY_MAX_SCANNED,
    },
    trustProxy: trustProxy(e.TRUST_PROXY),
    /** HMAC key for lookup cursors; absent: a random key per process */
    cursorSecret: e.CURSOR_SECRET as string | undefined,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    connectionTimeoutMs: e.CONNECTION_TIMEOUT_MS,
    /** load shedding (plugins/external/under-pressure.ts); 0 turns a bound off */
    overload: { maxEventLoopDelayMs: e.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS, maxEventLoopUtilization: e.OVERLOAD_MAX_ELU_PERMILLE / 1000 },
    contextMaxBytes: e.CONTEXT_MAX_BYTES,
    /** the audit trail: a Redis stream when REDIS_URL is set, a bounded ring in memory otherwise */
    audit: {
      stream: e.AUDIT_STREAM,
      retentionDays: e.AUDIT_RETENTION_DAYS,
      ...(e.AUDIT_MAX_RECORDS === undefined ? {} : { maxRecords: e.AUDIT_MAX_RECORDS as number }),
    },
  }
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const durationMs = (v: string) => Number(v.slice(0, -1)) * UNIT_MS[v.slice(-1)]!

function engineOf(e: Settings): EngineConfig {
  if (e.SPICEDB_ENDPOINT) {
    if (!e.SPICEDB_PRESHARED_KEY) {
      throw new ConfigError('invalid setting SPICEDB_PRESHARED_KEY: required when SPICEDB_ENDPOINT is set')
    }
    return { kind: 'remote', endpoints: e.SPICEDB_ENDPOINT.split(','), presharedKey: e.SPICEDB_PRESHARED_KEY, insecure: e.SPICEDB_INSECURE }
  }
  const ds = e.SPICEDB_DATASTORE_ENGINE
  if (ds && ds !== 'memory' && !e.SPICEDB_DATASTORE_URI) {
    throw new ConfigError(`invalid setting SPICEDB_DATASTORE_URI: required when SPICEDB_DATASTORE_ENGINE=${ds}`)
  }
  const engine: EngineConfig = ds && ds !== 'memory' ? { kind: 'embedded', datastore: { engine: ds, uri: e.SPICEDB_DATASTORE_URI! } } : { kind: 'embedded' }
  if (e.SPICEDB_EMBEDDED_LIBRARY) engine.library = e.SPICEDB_EMBEDDED_LIBRARY
  return engine
}

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

function trustProxy(value: string | undefined): TrustProxy {
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
function refuseUnsharedWorkers(workers: number, setting: string | undefined, engine: EngineConfig, redisUrl: string | undefined) {
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
export function durableEngine(engine: EngineConfig): boolean {
  return engine.kind === 'remote' || engine.datastore !== undefined
}

/**
 * On a durable engine, event ids kept in this process are forgotten by a crash while the
 * relationships stay: the caller's resend then re-applies events that were applied, and an
 * old event re-applied after later ones undoes them (a revoked grant comes back). So a
 * durable engine needs REDIS_URL, unless the operator accepts that risk by name.
 */
function refuseVolatileIdempotency(engine: EngineConfig, redisUrl: string | undefined, accepted: boolean) {
  if (!durableEngine(engine) || redisUrl || accepted) return
  const which = engine.kind === 'remote' ? 'SPICEDB_ENDPOINT is set' : `SPICEDB_DATASTORE_ENGINE=${engine.datastore!.engine}`
  throw new ConfigError(
    `invalid setting REDIS_URL: required when the engine is durable (${which}). Without it, event ids are kept in this ` +
      'process only, and a batch resent after a crash or to another replica re-applies events already applied, ' +
      'undoing later ones. Set REDIS_URL, or accept that risk with EVENTS_ALLOW_VOLATILE_IDEMPOTENCY=true',
  )
}
