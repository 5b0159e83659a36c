/**
 * The audit trail: who changed access, when, and through which door (SpiceDB #1414, #1970).
 *
 * Every write reaches SpiceDB through the engine port, so the port is where writes are
 * recorded: `AuditedEngine` wraps it and notes each applied write. A door that knows more
 * (an event's id, type and actor; the caller's key) runs its work inside `capture`, which
 * gathers every write the work makes (an event's main write and its sweeps) into ONE record.
 * A write made outside any capture still gets a record of its own, so no door can skip it.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import type { EnginePort, Precondition, Relationship, RelationshipFilter, RelationshipUpdate } from '../../engine/port.js'
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

const UNAUDITED = Symbol('unaudited engine')

/**
 * The engine under the audit wrapper, for a caller that sends the writes of several captures in
 * one call (grouped event writes) and notes each part in its own capture (`AuditService.note`).
 */
export function unaudited(engine: EnginePort): EnginePort {
  return (engine as { [UNAUDITED]?: EnginePort })[UNAUDITED] ?? engine
}

/**
 * For a caller that writes on `unaudited(engine)` and notes afterwards (grouped event writes):
 * the engine to write on, which judges each write's deletes first, and `changed`, which leaves
 * out of the noted updates the deletes that removed nothing.
 */
export function deletesJudged(engine: EnginePort): { engine: EnginePort; changed(updates: RelationshipUpdate[]): RelationshipUpdate[] } {
  const absent = new WeakSet<RelationshipUpdate>()
  const judged: EnginePort = Object.create(engine)
  judged.writeRelationships = async (updates, preconditions) => {
    for (const u of await absentDeletes(engine, updates)) absent.add(u)
    return engine.writeRelationships(updates, preconditions)
  }
  return { engine: judged, changed: (updates) => updates.filter((u) => !absent.has(u)) }
}

/** Notes one applied write, in the capture the caller runs in. */
export function noteUpdates(auditor: Auditor, updates: RelationshipUpdate[], token: string): Promise<void> {
  return auditor.noteWrite({ changes: updates.map(change), token })
}

const change = (u: RelationshipUpdate): AuditChange => ({ operation: u.operation, relationship: formatRelationship(u.relationship) })

/**
 * The engine port with every applied write noted. A delete by filter lists what it deletes by
 * reading the matches just before (fully consistent); SpiceDB's count is recorded beside them.
 */
export function auditedEngine(engine: EnginePort, auditor: Auditor): EnginePort {
  // an engine handed from one app to another (tests, benchmarks) is audited once, by the app using it
  const inner = (engine as { [UNAUDITED]?: EnginePort })[UNAUDITED] ?? engine
  const audited: EnginePort = Object.create(inner)
  Object.defineProperty(audited, UNAUDITED, { value: inner })
  audited.writeRelationships = async (updates: RelationshipUpdate[], preconditions?: Precondition[]) => {
    const absent = await absentDeletes(inner, updates)
    const token = await inner.writeRelationships(updates, preconditions)
    await auditor.noteWrite({ changes: updates.filter((u) => !absent.has(u)).map(change), token })
    return token
  }
  audited.deleteRelationships = async (filter: RelationshipFilter, preconditions?: Precondition[]) => {
    const before = await readMatches(inner, filter)
    const answer = await inner.deleteRelationships(filter, preconditions)
    if (answer.count > 0) {
      await auditor.noteWrite({
        changes: before.map((r) => ({ operation: 'delete', relationship: formatRelationship(r) })),
        token: answer.deletedAt,
        deleteFilter: formatFilter(filter),
        deletedCount: answer.count,
      })
    }
    return answer
  }
  return audited
}

/** objects whose relationships are read to judge deletes; past this many, deletes are recorded as asked */
const MAX_OBJECTS_READ = 20

/**
 * The deletes of a write that would remove nothing (a plan deletes "just in case": a pairing
 * that may exist, a role that may be held). SpiceDB's write answers no more than a token, so
 * what exists is read just before, once per object named; the record then lists what changed,
 * not what was asked. Events touching one object are applied one at a time (the keyed lock),
 * so no event write lands between this read and the write.
 */
async function absentDeletes(engine: EnginePort, updates: RelationshipUpdate[]): Promise<Set<RelationshipUpdate>> {
  const deletes = updates.filter((u) => u.operation === 'delete')
  const byObject = new Map<string, RelationshipUpdate[]>()
  for (const u of deletes) {
    const key = `${u.relationship.resource.type}:${u.relationship.resource.id}`
    byObject.set(key, [...(byObject.get(key) ?? []), u])
  }
  const absent = new Set<RelationshipUpdate>()
  if (byObject.size === 0 || byObject.size > MAX_OBJECTS_READ) return absent
  await Promise.all([...byObject.values()].map(async (list) => {
    const { resource } = list[0]!.relationship
    const page = await engine.readRelationships({ resourceType: resource.type, resourceId: resource.id }, { limit: 1000 }, { mode: 'fully_consistent' })
    if (page.cursor) return // more than one page: recorded as asked rather than read at length
    const present = new Set(page.relationships.map(key))
    for (const u of list) if (!present.has(key(u.relationship))) absent.add(u)
  }))
  return absent
}

/** a relationship without its caveat: a delete names none */
const key = (r: Relationship) => `${r.resource.type}:${r.resource.id}#${r.relation}@${formatSubject(r.subject)}`

async function readMatches(engine: EnginePort, filter: RelationshipFilter): Promise<Relationship[]> {
  const out: Relationship[] = []
  let cursor: string | undefined
  do {
    const page = await engine.readRelationships(filter, { limit: 1000, cursor }, { mode: 'fully_consistent' })
    out.push(...page.relationships)
    cursor = page.cursor
  } while (cursor && out.length < MAX_LISTED_DELETES)
  return out.slice(0, MAX_LISTED_DELETES)
}
