/**
 * Reading the audit trail: "what changed about this object, and who did it". Records are
 * scanned in time order from the store (a Redis stream or memory, both addressed by
 * `<ms>-<seq>` ids) and filtered here; a scan is bounded, and the cursor says where the next
 * page starts, so a rare object in a long trail is paged through, never a request that runs
 * unbounded.
 */
import type { AuditChange, AuditRecord } from './auditor.js'
import { toCsv } from '../wire/csv.js'

export interface AuditScan {
  /** records in id order, strictly after `after` when given, with time in [sinceMs, untilMs] */
  scan(opts: { after?: string; sinceMs?: number; untilMs?: number; count: number }): Promise<AuditRecord[]>
  /** the same, newest first: strictly before `before` when given, with time at most `untilMs` */
  scanBack(opts: { before?: string; untilMs?: number; count: number }): Promise<AuditRecord[]>
}

export interface AuditFilter {
  /** `type:id`: a change whose resource or subject is this object */
  object?: string
  /** `type:id` or `type:id#relation`: a change whose subject is this */
  subject?: string
  /** `user:id`: events this actor sent */
  actor?: string
  keyName?: string
}

export interface AuditQuery extends AuditFilter {
  sinceMs?: number
  untilMs?: number
  cursor?: string
  limit: number
  /** newest first: the cursor then says where the next, older page starts */
  newestFirst?: boolean
}

/** the most records read for one page, matching or not */
export const SCAN_BUDGET = 10_000
const BATCH = 500

/** `resource#relation@subject[caveat]` -> resource object, subject, subject object */
export function sidesOf(relationship: string) {
  const at = relationship.indexOf('@')
  const hash = relationship.indexOf('#')
  const subject = relationship.slice(at + 1).replace(/\[.*$/, '')
  return { resource: relationship.slice(0, hash), subject, subjectObject: subject.replace(/#.*$/, '') }
}

function changeMatches(c: AuditChange, f: AuditFilter): boolean {
  const s = sidesOf(c.relationship)
  if (f.object && s.resource !== f.object && s.subjectObject !== f.object) return false
  if (f.subject && s.subject !== f.subject && s.subjectObject !== f.subject) return false
  return true
}

export function recordMatches(r: AuditRecord, f: AuditFilter): boolean {
  if (f.actor && r.event?.actor !== f.actor) return false
  if (f.keyName && r.keyName !== f.keyName) return false
  if (!f.object && !f.subject) return true
  return (
    r.changes.some((c) => changeMatches(c, f)) ||
    (f.object !== undefined &&
      r.deleteFilter !== undefined &&
      [f.object, `${f.object}#`, `${f.object}@`].some((p) => r.deleteFilter === f.object || r.deleteFilter!.startsWith(p)))
  )
}

export async function queryAudit(store: AuditScan, q: AuditQuery): Promise<{ records: AuditRecord[]; cursor?: string }> {
  const records: AuditRecord[] = []
  const seen = new Set<string>()
  let after = q.cursor
  let scanned = 0
  while (scanned < SCAN_BUDGET) {
    const count = Math.min(BATCH, SCAN_BUDGET - scanned)
    const batch = q.newestFirst
      ? (await store.scanBack({ before: after, untilMs: q.untilMs, count })).filter((r) => q.sinceMs === undefined || Number(r.id!.split('-')[0]) >= q.sinceMs)
      : await store.scan({ after, sinceMs: q.sinceMs, untilMs: q.untilMs, count })
    for (const r of batch) {
      scanned++
      after = r.id
      // a store retry may have appended one record twice: the uid reads it once
      if (seen.has(r.uid) || !recordMatches(r, q)) continue
      seen.add(r.uid)
      records.push(r)
      if (records.length === q.limit) return { records, cursor: r.id }
    }
    if (batch.length === 0) return { records }
  }
  // budget spent: nothing more matched so far, but the trail goes on
  return { records, cursor: after }
}

/** `<ms>-<seq>` ids compare as pairs of numbers */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number]
  const [bm, bs] = b.split('-').map(Number) as [number, number]
  return am - bm || as - bs
}

/** One row per change, like the access report's CSV. */
export function auditCsv(records: AuditRecord[]): string {
  const rows = [['id', 'at', 'key', 'source', 'event_id', 'event_type', 'actor', 'operation', 'relationship', 'zedtoken']]
  for (const r of records) {
    const base = [r.id ?? '', r.at, r.keyName ?? '', r.source, r.event?.id ?? '', r.event?.type ?? '', r.event?.actor ?? '']
    if (r.changes.length === 0) rows.push([...base, 'delete', r.deleteFilter ?? '', r.zedToken])
    for (const c of r.changes) rows.push([...base, c.operation, c.relationship, r.zedToken])
  }
  return toCsv(rows)
}
