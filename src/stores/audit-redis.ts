/**
 * The audit trail in a Redis stream: shared by every gateway on the Redis, kept across
 * restarts. Redis assigns the ids (`<ms>-<seq>`, in arrival order), so records from several
 * gateways interleave in one order. Retention: entries older than `retentionDays` are
 * trimmed (XTRIM MINID) and the stream holds at most about `maxRecords` (XADD MAXLEN ~).
 */
import type { Redis } from 'ioredis'
import type { AuditRecord, AuditSink } from '../domain/audit/auditor.js'
import type { AuditScan } from '../domain/audit/query.js'

export interface RedisAuditOptions {
  key: string
  retentionDays: number
  maxRecords: number
}

const DAY_MS = 24 * 3600 * 1000

export class RedisAuditStore implements AuditSink, AuditScan {
  readonly durable = true

  constructor(
    private readonly redis: Redis,
    private readonly opts: RedisAuditOptions,
  ) {}

  async append(record: AuditRecord): Promise<void> {
    const minId = `${Date.now() - this.opts.retentionDays * DAY_MS}-0`
    const res = await this.redis
      .multi()
      .xadd(this.opts.key, 'MAXLEN', '~', String(this.opts.maxRecords), '*', 'r', JSON.stringify(record))
      // exact, not `~`: an approximate trim keeps whole nodes, i.e. records past their retention
      .xtrim(this.opts.key, 'MINID', minId)
      .exec()
    const failed = res?.find(([err]) => err)
    if (!res || failed) throw failed?.[0] ?? new Error('audit append was not executed')
  }

  async scan(opts: { after?: string; sinceMs?: number; untilMs?: number; count: number }): Promise<AuditRecord[]> {
    let start = opts.sinceMs !== undefined ? `${opts.sinceMs}-0` : '-'
    if (opts.after && (start === '-' || after(opts.after, start))) start = `(${opts.after}`
    const end = opts.untilMs !== undefined ? `${opts.untilMs}-18446744073709551615` : '+'
    return parsed(await this.redis.xrange(this.opts.key, start, end, 'COUNT', opts.count))
  }

  async scanBack(opts: { before?: string; untilMs?: number; count: number }): Promise<AuditRecord[]> {
    let end = opts.untilMs !== undefined ? `${opts.untilMs}-18446744073709551615` : '+'
    if (opts.before && (end === '+' || !after(opts.before, end))) end = `(${opts.before}`
    return parsed(await this.redis.xrevrange(this.opts.key, end, '-', 'COUNT', opts.count))
  }
}

function parsed(entries: [string, string[]][]): AuditRecord[] {
  return entries.flatMap(([id, fields]) => {
    const i = fields.indexOf('r')
    if (i < 0) return []
    try {
      return [{ ...(JSON.parse(fields[i + 1]!) as AuditRecord), id }]
    } catch {
      return []
    }
  })
}

/** is stream id a at or after b (b may be the `<ms>-0` of a time) */
function after(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number) as [number, number]
  const [bm, bs] = b.split('-').map(Number) as [number, number]
  return am > bm || (am === bm && as >= bs)
}
