/**
 * Reading the past ("who could see this client on the 3rd of November"). SpiceDB reads an
 * old revision exactly (`at_exact_snapshot`) but keeps no calendar: the audit trail does. Each
 * recorded write carries its ZedToken and time, so the state at a moment T is the snapshot of
 * the last recorded write at or before T. Two things bound how far back that goes, and a
 * time outside either answers 422 naming the setting, never an answer of another moment:
 * - the engine's GC window (HISTORY_RETENTION; the embedded engine sets it, a remote server's
 *   is its `--datastore-gc-window`, which the setting must not exceed);
 * - the trail itself (AUDIT_MAX_RECORDS, AUDIT_RETENTION_DAYS): before its oldest record the
 *   gateway cannot say which revision held.
 */
import { EngineError, type Consistency } from '../../engine/port.js'
import type { AuditRecord } from '../audit/auditor.js'
import type { AuditScan } from '../audit/query.js'
import { GatewayError, badRequest } from '../wire/errors.js'

export interface HistoryLimits {
  /** HISTORY_RETENTION, already capped by what the engine keeps */
  retentionMs: number
  /** which setting bounds it, for the 422 */
  retentionSetting: string
  /** the settings that bound the trail, for the 422 */
  trailSettings: string
}

/** A moment of the past, resolved to the revision that held then. */
export interface Moment {
  /** the time asked about */
  asOf: string
  /** the ZedToken read at: the last recorded write at or before `asOf` */
  revision: string
  /** that write: when it was recorded, and its record id in the trail */
  writtenAt: string
  writeId: string
}

export const historyUnavailable = (message: string, setting: string, field = 'asOf', details: Record<string, unknown> = {}) =>
  new GatewayError('GW_HISTORY_UNAVAILABLE', 422, `${field}: ${message} (${setting})`, field, { setting, ...details })

/** Parses a caller's time; the future is not history yet. */
export function parseTime(value: string, field: string, now: Date): number {
  const ms = Date.parse(value)
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) throw badRequest(field, 'is not an ISO-8601 time', 'GW_VALIDATION')
  if (ms > now.getTime()) throw badRequest(field, 'is in the future', 'GW_VALIDATION')
  return ms
}

const recordMs = (r: AuditRecord) => Number(r.id!.split('-')[0])

export class History {
  constructor(
    readonly trail: AuditScan,
    readonly limits: HistoryLimits,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** the time of the oldest recorded write that is still within retention (the earliest moment answerable) */
  async earliest(field = 'since'): Promise<number> {
    const edge = this.clock().getTime() - this.limits.retentionMs
    const first = (await this.trail.scan({ sinceMs: edge, count: 1 }))[0]
    if (!first) throw historyUnavailable('no write is recorded within retention', `${this.limits.retentionSetting}; ${this.limits.trailSettings}`, field)
    return recordMs(first)
  }

  /** Checks that `ms` is within retention and the trail, naming the setting that bounds it when not. */
  async assertKept(ms: number, field: string): Promise<void> {
    const edge = this.clock().getTime() - this.limits.retentionMs
    if (ms < edge) {
      throw historyUnavailable(`is before ${new Date(edge).toISOString()}, the oldest time the engine keeps`, this.limits.retentionSetting, field, {
        oldest: new Date(edge).toISOString(),
      })
    }
    const first = (await this.trail.scan({ count: 1 }))[0]
    if (!first || ms < recordMs(first)) {
      const oldest = first ? first.at : undefined
      throw historyUnavailable(
        oldest ? `is before ${oldest}, the oldest write the audit trail holds` : 'no write is recorded yet',
        this.limits.trailSettings,
        field,
        oldest ? { oldest } : {},
      )
    }
  }

  /** The revision that held at `ms`: the last recorded write at or before it. */
  async at(ms: number, field = 'asOf'): Promise<Moment> {
    await this.assertKept(ms, field)
    const last = (await this.trail.scanBack({ untilMs: ms, count: 1 }))[0]!
    // A write older than the engine's window cannot be read at, even though nothing changed since.
    if (recordMs(last) < this.clock().getTime() - this.limits.retentionMs) {
      throw historyUnavailable(
        `the last write before it (${last.at}) is older than the engine keeps; nothing changed between, so ask at a later time`,
        this.limits.retentionSetting,
        field,
        { lastWriteAt: last.at },
      )
    }
    return { asOf: new Date(ms).toISOString(), revision: last.zedToken, writtenAt: last.at, writeId: last.id! }
  }

  /**
   * Runs a question now (no `asOf`) or at the snapshot that held at `asOf`; the answer then
   * carries `asOf` (the moment and revision). `consistency` and `asOf` exclude each other.
   */
  async answer<T extends object>(
    asOf: string | undefined,
    consistency: unknown,
    run: (at?: Consistency, now?: Date) => Promise<T>,
  ): Promise<T & { asOf?: Moment }> {
    if (asOf === undefined) return run()
    if (consistency !== undefined)
      throw badRequest('asOf', 'cannot be combined with consistency: an asOf answer is read at exactly its revision', 'GW_VALIDATION')
    const { moment, consistency: at } = await this.resolve(asOf)
    try {
      // caveats (section release times) are judged at that moment too
      return { ...(await run(at, new Date(moment.asOf))), asOf: moment }
    } catch (err) {
      throw staleRevision((err as { cause?: unknown }).cause ?? err, this.limits.retentionSetting) ?? err
    }
  }

  /** `asOf` (a caller's time) resolved, with the consistency that reads exactly that snapshot */
  async resolve(asOf: string, field = 'asOf'): Promise<{ moment: Moment; consistency: Consistency }> {
    const moment = await this.at(parseTime(asOf, field, this.clock()), field)
    return { moment, consistency: { mode: 'at_exact_snapshot', token: moment.revision } }
  }
}

/**
 * SpiceDB's refusal of a revision it no longer keeps (past its GC window, e.g. a remote server
 * whose `--datastore-gc-window` is shorter than HISTORY_RETENTION): 422, never another answer.
 */
export function staleRevision(err: unknown, setting: string, field = 'asOf'): GatewayError | undefined {
  if (!(err instanceof EngineError)) return undefined
  if (err.grpcCode !== 11 && !/revision.*(stale|expired|garbage|invalid)|(stale|expired|invalid) revision/i.test(err.message)) return undefined
  return historyUnavailable('the engine no longer keeps that revision (its garbage-collection window is shorter)', setting, field)
}
