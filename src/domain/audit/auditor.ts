/**
 * The audit trail: who changed access, when, and through which door (SpiceDB #1414, #1970).
 *
 * Every write reaches SpiceDB through the engine port, so the port is where writes are
 * recorded: `AuditedEngine` (audited-engine.ts), a layer of the engine stack, notes each applied write. A door that knows more
 * (an event's id, type and actor; the caller's key) runs its work inside `capture`, which
 * gathers every write the work makes (an event's main write and its sweeps) into ONE record.
 * A write made outside any capture still gets a record of its own, so no door can skip it.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import type { RelationshipFilter, RelationshipUpdate } from '../../engine/port.js'
import { formatRelationship, formatSubject } from '../wire/refs.js'

export interface AuditEvent {
  id: string
  type: string
  actor?: string
}

/** what a door knows about a write it is about to make */
export interface AuditMeta {
  /** where it came from: `rest` and `stream` (events), `relationships` (the admin API), `engine` */
  source: string
  /** the API key's name, never the key; absent for the stream consumer */
  keyName?: string
  event?: AuditEvent
  /** an import or an applied reconcile: one record with its totals, its changes listed only when few */
  bulk?: { kind: 'import' | 'reconcile'; count: number; changed: number }
}

export interface AuditChange {
  operation: 'touch' | 'create' | 'delete'
  relationship: string
}

export interface AuditRecord extends AuditMeta {
  /** assigned by the store: `<ms>-<seq>`, ordered by time; also the cursor */
  id?: string
  /** unique per record, so a store retry that appended twice is read once */
  uid: string
  at: string
  changes: AuditChange[]
  /** a delete by filter: the filter, and how many SpiceDB reported deleted */
  deleteFilter?: string
  deletedCount?: number
  /** the ZedToken of the (last) write */
  zedToken: string
}

export interface AuditSink {
  append(record: AuditRecord): Promise<void>
}

interface Collector {
  changes: AuditChange[]
  tokens: string[]
  deleteFilter?: string
  deletedCount?: number
}

/** at most this many relationships are listed for one delete by filter */
export const MAX_LISTED_DELETES = 10_000

export function formatFilter(f: RelationshipFilter): string {
  const resource = f.resourceId ? `${f.resourceType}:${f.resourceId}` : f.resourceType
  return `${resource}${f.relation ? `#${f.relation}` : ''}${f.subject ? `@${formatSubject(f.subject)}` : ''}`
}

export class Auditor {
  private readonly als = new AsyncLocalStorage<Collector>()

  constructor(
    private readonly sink: AuditSink,
    private readonly onError: (err: unknown, record: AuditRecord) => void,
  ) {}

  /**
   * Runs a door's work and records, once, every write it applied, even when the work fails
   * after some writes landed (they are applied, so they are audited).
   */
  async capture<T>(meta: AuditMeta, work: () => Promise<T>): Promise<T> {
    const collector: Collector = { changes: [], tokens: [] }
    try {
      return await this.als.run(collector, work)
    } finally {
      if (collector.tokens.length) await this.record(meta, collector)
    }
  }

  /** called by the audited engine after each applied write */
  async noteWrite(part: Omit<Collector, 'tokens'> & { token: string }) {
    const outer = this.als.getStore()
    const target = outer ?? { changes: [], tokens: [] }
    target.changes.push(...part.changes)
    target.tokens.push(part.token)
    if (part.deleteFilter) target.deleteFilter = part.deleteFilter
    if (part.deletedCount !== undefined) target.deletedCount = (target.deletedCount ?? 0) + part.deletedCount
    if (!outer) await this.record({ source: 'engine' }, target)
  }

  private async record(meta: AuditMeta, c: Collector) {
    const record: AuditRecord = {
      ...meta,
      uid: randomUUID(),
      at: new Date().toISOString(),
      changes: c.changes,
      zedToken: c.tokens.at(-1)!,
    }
    if (c.deleteFilter) record.deleteFilter = c.deleteFilter
    if (c.deletedCount !== undefined) record.deletedCount = c.deletedCount
    try {
      await this.sink.append(record)
    } catch (err) {
      // the write is applied and cannot be taken back; failing the caller would only invite a
      // retry. The record goes to the log whole, and a metric counts the loss.
      this.onError(err, record)
    }
  }
}

/** Notes one applied write, in the capture the caller runs in. */
export function noteUpdates(auditor: Auditor, updates: RelationshipUpdate[], token: string): Promise<void> {
  return auditor.noteWrite({ changes: updates.map(change), token })
}

export const change = (u: RelationshipUpdate): AuditChange => ({ operation: u.operation, relationship: formatRelationship(u.relationship) })
