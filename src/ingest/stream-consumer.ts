/**
 * Consumes domain events from a Redis stream through a consumer group, at least once.
 *
 * Several gateway replicas share the group; each process reads under its own consumer name.
 * Messages of one read are applied as if in stream order: with `order` (the keys a REST batch
 * is ordered by, src/domain/events/apply/ordering.ts) a message waits for every earlier message of the
 * read that shares a key with it (its organization, a person, an object, its id), and the others
 * run together, at most `concurrency` at once; without it, or when the keys cannot be read, one
 * after another. A message that fails transiently holds back the ones that wait for it (it is
 * retried in place with backoff), so two events about the same object are never swapped by this
 * consumer. Idempotency lives in `apply` (the event id is the key), which makes redelivery safe.
 *
 * Outcomes: applied or duplicate -> XACK. A permanent failure (bad message, 4xx) -> dead-letter
 * stream and XACK in one MULTI. A transient failure -> stays pending, redelivered (XCLAIM, which
 * counts the delivery) until it has been delivered `maxDeliveries` times, then dead-lettered
 * with its error. While the engine itself is down (`engineUp` says no), a failure is not the
 * message's: it is retried in place, with backoff capped at `outageRetryMaxMs`, and no delivery
 * is counted (XCLAIM JUSTID keeps it ours without counting one), so an outage of any length
 * dead-letters nothing. Messages left pending by a consumer that died are taken over with XAUTOCLAIM
 * once idle for `claimIdleMs`; one already delivered more than `maxDeliveries` times is
 * dead-lettered without another attempt (it may be what kills its consumers).
 */
import type { Redis } from 'ioredis'
import { withDefaults, type ResolvedOptions, type StreamConsumerOptions, type OutcomeReport } from './consumer-options.js'
import { runOrdered } from '../domain/events/apply/ordering.js'
import {
  decodeEvent,
  errorCode,
  errorMessage,
  isPermanentFailure,
  MessageError,
  parseGroupInfo,
  type GroupInfo,
  type StreamMessage,
} from './stream-protocol.js'
import { ConsumerGroup, type Delivery } from './consumer-group.js'
import { backoffMs } from '../timing.js'

export type * from './consumer-options.js'
export { defaultConsumerName } from './consumer-options.js'

export class StreamConsumer {
  readonly name: string
  private readonly o: ResolvedOptions
  private conn?: Redis
  private loop?: Promise<void>
  private stopping = false
  private groupReady = false
  private lastClaim = 0
  /** the sleeps under way (retries wait in several messages at once): stop() ends them */
  private readonly sleepers = new Set<() => void>()
  private connDown = false
  private readonly group: ConsumerGroup
  /** the engine was last found down (engineUp) */
  private outage = false
  private probe?: Promise<boolean>

  constructor(options: StreamConsumerOptions) {
    this.o = withDefaults(options)
    this.name = this.o.consumer
    this.group = new ConsumerGroup(() => this.conn!, this.o.stream, this.o.group, this.name, this.o.deadLetterStream)
  }

  /** Starts the loop on a connection of its own (XREADGROUP BLOCK would stall a shared one). */
  start(): void {
    if (this.loop) return
    // maxRetriesPerRequest null: while Redis is away, commands wait for the reconnection
    // instead of failing, and ioredis resends the blocked read once it is back.
    const conn = this.o.redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true })
    conn.on('error', (err: Error) => {
      if (!this.connDown && !this.stopping) this.o.log.warn({ err: err.message, stream: this.o.stream }, 'stream consumer lost Redis; reconnecting')
      this.connDown = true
    })
    conn.on('ready', () => {
      if (this.connDown) this.o.log.info({ stream: this.o.stream }, 'stream consumer reconnected to Redis')
      this.connDown = false
    })
    this.conn = conn
    this.loop = this.run()
    this.o.log.info({ stream: this.o.stream, group: this.o.group, consumer: this.name }, 'stream consumer started')
  }

  /**
   * Lets the message in flight finish, then stops; unprocessed messages stay pending. Only
   * what was applied (or found already applied) is acknowledged, and dead letters are
   * written only for permanent refusals.
   */
  async stop(): Promise<void> {
    if (!this.loop || !this.conn) return
    this.stopping = true
    for (const wake of [...this.sleepers]) wake()
    const done = this.loop.catch(() => undefined)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, this.o.blockMs + this.o.stopGraceMs)))])
    clearTimeout(timer)
    this.conn.disconnect()
    await done
  }

  /** The group's pending count and lag, read on the caller's (non-blocking) connection. */
  async groupInfo(): Promise<GroupInfo | undefined> {
    return parseGroupInfo(await this.o.redis.call('XINFO', 'GROUPS', this.o.stream), this.o.group)
  }

  private async run(): Promise<void> {
    let failures = 0
    while (!this.stopping) {
      try {
        if (!this.groupReady) await this.ensureGroup()
        if (Date.now() - this.lastClaim >= this.o.claimIntervalMs) await this.claimStale()
        if (this.stopping) break
        await this.process(await this.group.read(this.o.count, this.o.blockMs))
        failures = 0
      } catch (err) {
        if (this.stopping) break
        // NOGROUP: the stream or the group vanished (e.g. Redis restarted without persistence).
        // Recreating is idempotent, so any failure simply re-checks the group next time.
        this.groupReady = false
        failures++
        this.o.log.warn({ err: errorMessage(err), stream: this.o.stream }, 'stream consumer error; retrying')
        await this.sleep(backoffMs(failures + 1, 50, 5000))
      }
    }
  }

  private async ensureGroup(): Promise<void> {
    if (await this.group.ensure()) this.o.log.info({ stream: this.o.stream, group: this.o.group }, 'created consumer group')
    this.groupReady = true
  }

  /** Takes over messages left pending (idle > claimIdleMs) by consumers that stopped or died. */
  private async claimStale(): Promise<void> {
    this.lastClaim = Date.now()
    let cursor = '0-0'
    do {
      const page = await this.group.claimIdle(this.o.claimIdleMs, cursor, this.o.count)
      cursor = page.cursor
      if (page.claimed.length === 0) continue
      this.o.log.info({ stream: this.o.stream, claimed: page.claimed.length }, 'reclaimed pending messages')
      await this.process(page.claimed)
    } while (cursor !== '0-0' && !this.stopping)
  }

  /**
   * As if in order (see the top); on stop the messages not started are handed back, pending, for
   * another replica (or the next start). A failure to acknowledge or dead-letter stops the read:
   * messages not started stay pending, and the loop's error handling takes over.
   */
  private async process(batch: Delivery[]): Promise<void> {
    const keys = await this.keysOf(batch)
    const notStarted: number[] = []
    let failed: { err: unknown } | undefined
    await runOrdered(
      batch.length,
      (i) => keys?.[i],
      keys ? this.o.concurrency : 1,
      async (i) => {
        if (this.stopping || failed) return void notStarted.push(i)
        try {
          await this.handle(batch[i]!.message, batch[i]!.deliveries)
        } catch (err) {
          failed ??= { err }
        }
      },
    )
    if (failed) throw failed.err
    if (notStarted.length > 0) await this.handBack(notStarted.sort((a, b) => a - b).map((i) => batch[i]!))
  }

  /** The keys ordering a read, or undefined for strict order. */
  private async keysOf(batch: Delivery[]): Promise<(string[] | undefined)[] | undefined> {
    if (!this.o.order || this.o.concurrency <= 1 || batch.length < 2) return undefined
    const raws = batch.map(({ message }) => {
      try {
        return decodeEvent(message)
      } catch {
        return undefined // dead-lettered when its turn comes; a barrier meanwhile
      }
    })
    try {
      return await this.o.order(raws)
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err), stream: this.o.stream }, 'could not read what orders this read; applying it in stream order')
      return undefined
    }
  }

  /**
   * Messages read but never attempted when stopping. Each read counted a delivery, so rolling
   * restarts alone would push them to `maxDeliveries` and the dead-letter stream
   * (GW_STREAM_UNACKNOWLEDGED) without one attempt. XCLAIM with RETRYCOUNT takes that count
   * back, and IDLE makes them claimable by another replica at once instead of after the idle time.
   */
  private async handBack(rest: Delivery[]): Promise<void> {
    if (rest.length === 0) return
    try {
      await this.group.handBack(rest, this.o.claimIdleMs)
      this.o.log.info({ stream: this.o.stream, handedBack: rest.length }, 'stopping: handed back messages not started')
    } catch (err) {
      // They stay pending with the read counted: reclaimed after the idle time as before.
      this.o.log.warn({ err: errorMessage(err), stream: this.o.stream }, 'stopping: could not hand back messages not started')
    }
  }

  private async handle(message: StreamMessage, firstDeliveries: number): Promise<void> {
    let deliveries = firstDeliveries
    if (deliveries > this.o.maxDeliveries) {
      const err = new MessageError('GW_STREAM_UNACKNOWLEDGED', `delivered ${deliveries} times without being acknowledged (its consumers stopped or crashed)`)
      return this.deadLetter(message, err, deliveries, undefined)
    }
    let event: unknown
    try {
      event = decodeEvent(message)
    } catch (err) {
      return this.deadLetter(message, err, deliveries, undefined)
    }
    const eventId = typeof (event as { id?: unknown })?.id === 'string' ? (event as { id: string }).id : undefined
    let outages = 0
    for (;;) {
      try {
        const { status } = await this.o.apply(event)
        this.report({ outcome: status, messageId: message.id, eventId, deliveries })
        await this.group.ack(message.id)
        return
      } catch (err) {
        const permanent = isPermanentFailure(err)
        // Stopping: a transient failure (e.g. GW_SHUTTING_DOWN) stays pending, unacknowledged,
        // for the next consumer; it is not dead-lettered for want of a retry this process won't make.
        if (!permanent && this.stopping) return
        if (!permanent && (await this.engineDown())) {
          outages++
          this.report({ outcome: 'retry', messageId: message.id, eventId, deliveries, code: errorCode(err), error: errorMessage(err) })
          await this.sleep(backoffMs(outages, this.o.retryDelayMs, this.o.outageRetryMaxMs))
          if (this.stopping || !(await this.group.hold(message.id))) return
          continue
        }
        outages = 0
        if (permanent || deliveries >= this.o.maxDeliveries) return this.deadLetter(message, err, deliveries, eventId)
        this.report({ outcome: 'retry', messageId: message.id, eventId, deliveries, code: errorCode(err), error: errorMessage(err) })
        this.o.log.warn({ messageId: message.id, eventId, deliveries, err: errorMessage(err) }, 'event failed; will retry')
        await this.sleep(backoffMs(deliveries, this.o.retryDelayMs, this.o.claimIdleMs / 2))
        if (this.stopping) return
        const next = await this.group.redeliver(message.id)
        if (next === undefined) return // acknowledged or deleted meanwhile
        deliveries = next
      }
    }
  }

  /** The engine does not answer (once per outage in the log, not once per message). */
  private async engineDown(): Promise<boolean> {
    if (!this.o.engineUp) return false
    // messages failing together share one probe
    const up = await (this.probe ??= this.o
      .engineUp()
      .catch(() => false)
      .finally(() => (this.probe = undefined)))
    if (!up && !this.outage) this.o.log.warn({ stream: this.o.stream }, 'the engine is down: events wait, and their deliveries are not counted')
    if (up && this.outage) this.o.log.info({ stream: this.o.stream }, 'the engine answers again')
    this.outage = !up
    return !up
  }

  private async deadLetter(message: StreamMessage, err: unknown, deliveries: number, eventId: string | undefined): Promise<void> {
    const report: OutcomeReport = {
      outcome: 'dead_lettered',
      messageId: message.id,
      eventId,
      deliveries,
      code: errorCode(err),
      error: errorMessage(err),
    }
    this.report(report)
    this.o.log.warn({ ...report }, 'event moved to the dead-letter stream')
    await this.group.deadLetter(message, err, deliveries)
  }

  private report(r: OutcomeReport): void {
    try {
      this.o.onOutcome?.(r)
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'stream outcome listener failed')
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.sleepers.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.sleepers.add(done)
    })
  }
}
