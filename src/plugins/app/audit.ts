/**
 * The audit trail as a service, `app.audit`: every applied write is recorded once, with the
 * door it came through. The engine port is wrapped here (before the events service and the
 * routes take it), so every write is seen; doors that know more say so with `capture`.
 * Durable in a Redis stream when REDIS_URL is set; a bounded ring in memory otherwise.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import client from 'prom-client'
import { Auditor, auditedEngine, noteUpdates, type AuditMeta } from '../../domain/audit/auditor.js'
import type { RelationshipUpdate } from '../../engine/port.js'
import { queryAudit, type AuditQuery } from '../../domain/audit/query.js'
import { MemoryAuditStore } from '../../stores/audit-memory.js'
import { RedisAuditStore } from '../../stores/audit-redis.js'
import { History } from '../../domain/questions/history.js'

export interface AuditService {
  /** runs a door's work, recording its applied writes as one record */
  capture<T>(meta: AuditMeta, work: () => Promise<T>): Promise<T>
  query(q: AuditQuery): ReturnType<typeof queryAudit>
  /** records a write made on `unaudited(app.engine)` as part of the current capture */
  note(updates: RelationshipUpdate[], token: string): Promise<void>
  /** true when records outlive this process (Redis) */
  readonly durable: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    audit: AuditService
    /** the past, read through the trail's tokens (asOf, access changes) */
    history: History
  }
}

const MEMORY_RECORDS = 10_000
const REDIS_RECORDS = 1_000_000

async function auditPlugin(app: FastifyInstance) {
  const { stream, retentionDays, maxRecords } = app.config.audit
  const store = app.redis
    ? new RedisAuditStore(app.redis, { key: stream, retentionDays, maxRecords: maxRecords ?? REDIS_RECORDS })
    : new MemoryAuditStore(maxRecords ?? MEMORY_RECORDS)
  const lost = new client.Counter({
    name: 'trellis_audit_records_lost_total',
    help: 'applied writes whose audit record could not be stored (the record is in the error log)',
    registers: [app.metrics.registry],
  })
  const auditor = new Auditor(store, (err, record) => {
    lost.inc()
    app.log.error({ err, auditRecord: record }, 'audit record not stored; the write it describes is applied')
  })
  // every door reaches SpiceDB through app.engine: wrapping it here means no write escapes
  app.engine = auditedEngine(app.engine, auditor)
  app.decorate('audit', {
    capture: (meta, work) => auditor.capture(meta, work),
    query: (q) => queryAudit(store, q),
    note: (updates, token) => noteUpdates(auditor, updates, token),
    durable: store.durable,
  } satisfies AuditService)
  app.decorate('history', new History(store, historyLimits(app, store.durable, maxRecords ?? (store.durable ? REDIS_RECORDS : MEMORY_RECORDS))))
  if (!store.durable) app.log.warn('REDIS_URL is not set: the audit trail is kept in this process only (bounded, lost on restart)')
}

/** History goes back as far as both the engine and the trail keep; the 422 names whichever is short. */
function historyLimits(app: FastifyInstance, durable: boolean, records: number) {
  const setting = app.config.history.retentionMs
  const engine = app.engine.historyWindowMs ?? Infinity
  const retentionSetting = engine < setting
    ? `HISTORY_RETENTION, capped by the embedded library's ${engine / 3_600_000} h garbage-collection window: build ours with npm run spicedb:lib`
    : 'HISTORY_RETENTION'
  const trailSettings = durable ? 'AUDIT_RETENTION_DAYS, AUDIT_MAX_RECORDS' : `AUDIT_MAX_RECORDS: the trail in this process holds ${records} records`
  return { retentionMs: Math.min(setting, engine), retentionSetting, trailSettings }
}

export default fp(auditPlugin, { name: 'audit', dependencies: ['engine', 'metrics', 'redis'] })
