/**
 * The audit trail in this process only (no REDIS_URL): a bounded ring, oldest records
 * dropped first, lost on restart. Ids follow Redis stream ids (`<ms>-<seq>`) so cursors read
 * the same whichever store answers.
 */
import type { AuditRecord, AuditSink } from '../domain/audit/auditor.js'
import { compareIds, type AuditScan } from '../domain/audit/query.js'

export class MemoryAuditStore implements AuditSink, AuditScan {
  readonly durable = false
  private readonly records: AuditRecord[] = []
  private lastMs = 0
  private seq = 0

  constructor(private readonly maxRecords: number) {}

  async append(record: AuditRecord): Promise<void> {
    const ms = Math.max(Date.now(), this.lastMs)
    this.seq = ms === this.lastMs ? this.seq + 1 : 0
    this.lastMs = ms
    this.records.push({ ...record, id: `${ms}-${this.seq}` })
    if (this.records.length > this.maxRecords) this.records.splice(0, this.records.length - this.maxRecords)
  }

  async scan(opts: { after?: string; sinceMs?: number; untilMs?: number; count: number }): Promise<AuditRecord[]> {
    const out: AuditRecord[] = []
    for (const r of this.records) {
      const ms = Number(r.id!.split('-')[0])
      if (opts.after && compareIds(r.id!, opts.after) <= 0) continue
      if (opts.sinceMs !== undefined && ms < opts.sinceMs) continue
      if (opts.untilMs !== undefined && ms > opts.untilMs) break
      out.push(r)
      if (out.length === opts.count) break
    }
    return out
  }

  async scanBack(opts: { before?: string; untilMs?: number; count: number }): Promise<AuditRecord[]> {
    const out: AuditRecord[] = []
    for (let i = this.records.length - 1; i >= 0 && out.length < opts.count; i--) {
      const r = this.records[i]!
      if (opts.before && compareIds(r.id!, opts.before) >= 0) continue
      if (opts.untilMs !== undefined && Number(r.id!.split('-')[0]) > opts.untilMs) continue
      out.push(r)
    }
    return out
  }
}
