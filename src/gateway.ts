/**
 * The composition root: the engine stack and the services the routes call, built in one
 * place, without Fastify. The plugins only decorate the app with what this built, and close it
 * with the app.
 *
 * The stack, bottom to top, in the order the guarantees apply (each a layer, engine/layer.ts):
 *
 *   adapter                SpiceDB, embedded or remote (engine/index.ts); coalescer and decision cache inside
 *   InstrumentedEngine     every call measured, and traced when tracing is on
 *   NowOnlyWhereNeeded     checks send the gateway's `now` only where a caveat can read it
 *   ReadYourWritesEngine   every read at least as fresh as every write the gateway acknowledged
 *   AuditedEngine          every applied write recorded once (the engine routes use)
 *
 * Doors that note their own writes in the trail (grouped event writes, imports, reconcile)
 * write on `unaudited`, the stack below the audit layer.
 */
import type { Redis } from 'ioredis'
import type { Tracer } from '@opentelemetry/api'
import client from 'prom-client'
import { ConfigError, durableEngine, type Config } from './config.js'
import { createEngine } from './engine/index.js'
import { EngineError, type EnginePort, type RelationshipUpdate } from './engine/port.js'
import { SpiceDbEngine } from './engine/spicedb-engine.js'
import { InstrumentedEngine, type EngineObserver } from './engine/instrumented.js'
import { ReadYourWritesEngine } from './engine/consistency/read-your-writes.js'
import { decodeZedToken } from './engine/consistency/revision.js'
import { MemoryZedTokenStore, type ZedTokenStore } from './engine/consistency/zedtoken-store.js'
import { readSchemaFile, syncSchema } from './domain/schema/sync.js'
import { caveatReach, NowOnlyWhereNeeded } from './domain/schema/caveat-reach.js'
import { indexSchema } from './domain/schema/subject-uses.js'
import { Auditor, noteUpdates, type AuditMeta } from './domain/audit/auditor.js'
import { AuditedEngine } from './domain/audit/audited-engine.js'
import { queryAudit, type AuditQuery } from './domain/audit/query.js'
import { History } from './domain/questions/history.js'
import { createEventsService, type EventsService } from './domain/events/apply/service.js'
import { MemoryIdempotencyStore } from './domain/events/apply/idempotency.js'
import { createImportGate, type ImportGate } from './domain/onboarding/import-gate.js'
import { RedisZedTokenStore } from './stores/redis-zedtoken-store.js'
import { MemoryAuditStore } from './stores/audit-memory.js'
import { RedisAuditStore } from './stores/audit-redis.js'
import { RedisIdempotencyStore } from './stores/redis-idempotency.js'

export interface AuditService {
  /** runs a door's work, recording its applied writes as one record */
  capture<T>(meta: AuditMeta, work: () => Promise<T>): Promise<T>
  query(q: AuditQuery): ReturnType<typeof queryAudit>
  /** records a write made on `gateway.unaudited` as part of the current capture */
  note(updates: RelationshipUpdate[], token: string): Promise<void>
  /** true when records outlive this process (Redis) */
  readonly durable: boolean
}

/** what the gateway logs while it starts (the app's logger) */
export interface GatewayLog {
  info(fields: object, message: string): void
  warn(message: string): void
  error(fields: object, message: string): void
}

export interface GatewayOptions {
  config: Config
  /**
   * An engine to build on instead of creating one; the caller then owns closing it. Another
   * gateway's engine (replicas in tests and benchmarks) means its adapter: this gateway stacks
   * its own layers on it, with its own write tokens and its own trail.
   */
  engine?: EnginePort
  /** the gateway's clock; section release times are judged against it */
  clock?: () => Date
  /** where write tokens, the audit trail and event ids are shared, when REDIS_URL is set */
  redis?: Redis
  metrics: { registry: client.Registry; engineCalls: EngineObserver }
  tracer?: Tracer
  log: GatewayLog
  /** aborted when the gateway starts closing: event batches stop at their next event */
  shutdown: AbortSignal
}

export interface Gateway {
  /** the engine that speaks SpiceDB, under every layer */
  readonly adapter: EnginePort
  /** the whole stack: what the routes ask */
  readonly engine: EnginePort
  /** the stack below the audit layer, for doors that note their writes themselves */
  readonly unaudited: EnginePort
  /** the read-your-writes layer (its counters, for tests and benchmarks) */
  readonly readYourWrites: ReadYourWritesEngine
  readonly schemaText: string
  readonly clock: () => Date
  readonly importGate: ImportGate
  readonly audit: AuditService
  /** the past, read through the trail's tokens (asOf, access changes) */
  readonly history: History
  readonly events: EventsService
  /** closes the adapter when this gateway created it */
  close(): Promise<void>
}

/** every engine a gateway handed out, to the adapter under it */
const adapters = new WeakMap<EnginePort, EnginePort>()

const MEMORY_RECORDS = 10_000
const REDIS_RECORDS = 1_000_000

export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config, redis, log } = opts
  const schemaText = await readSchemaFile(config.schemaFile)
  const adapter = opts.engine ? (adapters.get(opts.engine) ?? opts.engine) : await createEngine(config)
  const owned = !opts.engine
  let tokens: ZedTokenStore
  try {
    const written = await syncSchema(adapter, schemaText)
    tokens = await createTokenStore(adapter, redis)
    const checkAnswersKept = decisionCacheOf(adapter) ? 'until the next write' : 'no'
    log.info({ engine: adapter.description, schemaWritten: written, zedTokens: tokens.description, checkAnswersKept }, 'authorization engine ready')
  } catch (err) {
    if (owned) await adapter.close()
    throw unmigrated(config, err) ?? err
  }
  countKeptAnswers(adapter, opts.metrics.registry)

  const { auditor, audit, history } = auditTrail(opts, adapter)
  const measured = new InstrumentedEngine(adapter, opts.metrics.engineCalls, opts.tracer)
  const nowFiltered = new NowOnlyWhereNeeded(measured, caveatReach(schemaText))
  const readYourWrites = new ReadYourWritesEngine(nowFiltered, tokens)
  const engine = new AuditedEngine(readYourWrites, auditor)
  adapters.set(engine, adapter).set(readYourWrites, adapter)

  const clock = opts.clock ?? (() => new Date())
  const importGate = createImportGate()
  const events = createEventsService({
    engine,
    unaudited: readYourWrites,
    audit,
    gate: importGate,
    schema: indexSchema(schemaText),
    clock,
    store: idempotencyStore(config, redis),
    shutdown: opts.shutdown,
    // a config built by hand without it (tests) keeps strict order
    batchConcurrency: config.events.batchConcurrency ?? 1,
    count: eventCounter(opts.metrics.registry),
  })
  return {
    adapter,
    engine,
    unaudited: readYourWrites,
    readYourWrites,
    schemaText,
    clock,
    importGate,
    audit,
    history,
    events,
    close: async () => {
      if (owned) await adapter.close()
    },
  }
}

/**
 * The trail: durable in a Redis stream when REDIS_URL is set, a bounded ring in memory
 * otherwise. A record that cannot be stored goes to the error log whole, and a metric counts it.
 */
function auditTrail(opts: GatewayOptions, adapter: EnginePort) {
  const { stream, retentionDays, maxRecords } = opts.config.audit
  const store = opts.redis
    ? new RedisAuditStore(opts.redis, { key: stream, retentionDays, maxRecords: maxRecords ?? REDIS_RECORDS })
    : new MemoryAuditStore(maxRecords ?? MEMORY_RECORDS)
  const lost = new client.Counter({
    name: 'trellis_audit_records_lost_total',
    help: 'applied writes whose audit record could not be stored (the record is in the error log)',
    registers: [opts.metrics.registry],
  })
  const auditor = new Auditor(store, (err, record) => {
    lost.inc()
    opts.log.error({ err, auditRecord: record }, 'audit record not stored; the write it describes is applied')
  })
  const audit: AuditService = {
    capture: (meta, work) => auditor.capture(meta, work),
    query: (q) => queryAudit(store, q),
    note: (updates, token) => noteUpdates(auditor, updates, token),
    durable: store.durable,
  }
  const records = maxRecords ?? (store.durable ? REDIS_RECORDS : MEMORY_RECORDS)
  const history = new History(store, historyLimits(opts.config, adapter, store.durable, records))
  return { auditor, audit, history }
}

/** History goes back as far as both the engine and the trail keep; the 422 names whichever is short. */
function historyLimits(config: Config, adapter: EnginePort, durable: boolean, records: number) {
  const setting = config.history.retentionMs
  const engine = adapter.historyWindowMs ?? Infinity
  const retentionSetting =
    engine < setting
      ? `HISTORY_RETENTION, capped by the embedded library's ${engine / 3_600_000} h garbage-collection window: build ours with npm run spicedb:lib`
      : 'HISTORY_RETENTION'
  const trailSettings = durable ? 'AUDIT_RETENTION_DAYS, AUDIT_MAX_RECORDS' : `AUDIT_MAX_RECORDS: the trail in this process holds ${records} records`
  return { retentionMs: Math.min(setting, engine), retentionSetting, trailSettings }
}

/** Event ids are remembered in Redis when REDIS_URL is set (across restarts and replicas), in this process otherwise. */
function idempotencyStore(config: Config, redis: Redis | undefined) {
  const ttlSeconds = config.idempotencyTtlSeconds
  return redis ? new RedisIdempotencyStore(redis, { ttlSeconds }) : new MemoryIdempotencyStore(ttlSeconds)
}

function eventCounter(registry: client.Registry) {
  const counter = new client.Counter({
    name: 'trellis_events_total',
    help: 'domain events handled, by source and outcome (failed: transient, may be retried)',
    labelNames: ['source', 'outcome'],
    registers: [registry],
  })
  return (source: string, outcome: string, n?: number) => counter.inc({ source, outcome }, n)
}

/** Says at start-up when the event ids and the relationships do not last alike. */
export function idempotencyWarnings(config: Config, events: EventsService): string[] {
  const out: string[] = []
  if (events.store.shared && !durableEngine(config.engine)) {
    // The reverse mismatch: after a restart the ids are remembered and the relationships are not.
    out.push('REDIS_URL is set but the engine keeps relationships in memory: after a restart, resent events answer duplicate and are not re-applied')
  }
  if (!events.store.shared) {
    out.push(
      'REDIS_URL is not set: event ids are kept in this process only, so duplicates are only caught within this process (not across restarts or replicas)',
    )
  }
  return out
}

/**
 * The embedded engine on a database SpiceDB's migrations never ran on: its first read fails
 * on a missing table (Postgres: SQLSTATE 42P01), which reached the operator as a stack trace.
 * The library cannot migrate (neither ours nor the npm package exposes it), so the start
 * stops with the command that does. The URI is a secret: it is named, not printed.
 */
function unmigrated(config: Config, err: unknown): ConfigError | undefined {
  const e = config.engine
  if (e.kind !== 'embedded' || !e.datastore || !(err instanceof EngineError)) return undefined
  if (!/SQLSTATE 42P01|relation "[^"]+" does not exist/.test(err.message)) return undefined
  return new ConfigError(
    `SPICEDB_DATASTORE_URI: the ${e.datastore.engine} database has no SpiceDB tables (not migrated). Run ` +
      `\`spicedb datastore migrate head --datastore-engine ${e.datastore.engine} --datastore-conn-uri "$SPICEDB_DATASTORE_URI"\`` +
      ' with SpiceDB v1.54.0 (the embedded version), then start again (docs/engines.md)',
  )
}

/** the adapter's decision cache, where it keeps check answers until the next write */
const decisionCacheOf = (adapter: EnginePort) => (adapter instanceof SpiceDbEngine ? adapter.decisionCache : undefined)

function countKeptAnswers(adapter: EnginePort, registry: client.Registry) {
  const cache = decisionCacheOf(adapter)
  if (!cache) return
  new client.Counter({
    name: 'trellis_check_answers_kept_total',
    help: 'checks answered from answers kept until the next write (hit), or asked of the engine (miss); embedded in-memory engine only',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset()
      this.inc({ result: 'hit' }, cache.stats.hits)
      this.inc({ result: 'miss' }, cache.stats.misses)
    },
  })
}

/** Replicas over one datastore share one Redis key, named by the datastore's id. */
async function createTokenStore(adapter: EnginePort, redis: Redis | undefined): Promise<ZedTokenStore> {
  if (!redis) return new MemoryZedTokenStore()
  const datastoreId = decodeZedToken(await adapter.headToken())?.datastoreId ?? ''
  return new RedisZedTokenStore(redis, { datastoreId })
}
