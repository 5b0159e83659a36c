/**
 * What a StreamConsumer is given (stream-consumer.ts), and the defaults of its knobs.
 */
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'

export type ApplyEvent = (raw: unknown) => Promise<{ status: 'applied' | 'duplicate' }>
/** the keys of each event, `undefined` for a barrier (batch.ts eventKeys) */
export type OrderEvents = (raws: unknown[]) => Promise<(string[] | undefined)[]>
export type StreamOutcome = 'applied' | 'duplicate' | 'dead_lettered' | 'retry'

export interface OutcomeReport {
  outcome: StreamOutcome
  messageId: string
  /** the event's id, when the message held an event with one */
  eventId?: string
  deliveries: number
  code?: string
  error?: string
}

export interface ConsumerLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

/** Knobs with defaults; tests and the benchmark shorten the waits. */
export interface StreamConsumerTuning {
  /** unique per process by default: hostname-pid-random */
  consumer?: string
  blockMs?: number
  count?: number
  /** a pending message idle this long belongs to a consumer presumed dead and is reclaimed */
  claimIdleMs?: number
  claimIntervalMs?: number
  /** first retry delay of a transient failure; doubles per delivery, capped below claimIdleMs */
  retryDelayMs?: number
  /** how long stop() lets the messages in flight finish before cutting the connection */
  stopGraceMs?: number
  /** longest wait between attempts while the engine is down (default 5 s, below claimIdleMs / 2) */
  outageRetryMaxMs?: number
  /** messages of one read applied at once when `order` lets them (default 1: in order) */
  concurrency?: number
  /**
   * Whether the engine answers now, asked after a transient failure: if not, the failure is the
   * outage's, not the message's, and is not counted against it. Without it every one counts.
   */
  engineUp?: () => Promise<boolean>
  /** called for every outcome, before the message is acknowledged */
  onOutcome?: (report: OutcomeReport) => void
}

export interface StreamConsumerOptions extends StreamConsumerTuning {
  redis: Redis
  apply: ApplyEvent
  order?: OrderEvents
  stream: string
  deadLetterStream: string
  group: string
  maxDeliveries: number
  log?: ConsumerLog
}

const silent: ConsumerLog = { info() {}, warn() {} }

export const defaultConsumerName = () => `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`

export type ResolvedOptions = Required<Omit<StreamConsumerOptions, 'onOutcome' | 'order' | 'engineUp'>> &
  Pick<StreamConsumerOptions, 'onOutcome' | 'order' | 'engineUp'>

export function withDefaults(options: StreamConsumerOptions): ResolvedOptions {
  const claimIdleMs = options.claimIdleMs ?? 30_000
  return {
    ...options,
    consumer: options.consumer ?? defaultConsumerName(),
    blockMs: options.blockMs ?? 1000,
    count: options.count ?? 100,
    claimIdleMs,
    claimIntervalMs: options.claimIntervalMs ?? Math.min(claimIdleMs, 5000),
    retryDelayMs: options.retryDelayMs ?? 500,
    outageRetryMaxMs: Math.min(options.outageRetryMaxMs ?? 5000, claimIdleMs / 2),
    stopGraceMs: options.stopGraceMs ?? 5000,
    concurrency: options.concurrency ?? 1,
    log: options.log ?? silent,
  }
}
