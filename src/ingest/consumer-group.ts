/**
 * One consumer's commands on its Redis consumer group: reading, taking over, holding and
 * settling entries. Redis keeps the one truth of each entry's delivery count (XREADGROUP and
 * XCLAIM count one; XCLAIM JUSTID and RETRYCOUNT do not), so no count lives in this process.
 * What to do with an entry (retry, count, dead-letter) is the consumer's policy
 * (stream-consumer.ts); this file only says how each step is written in Redis.
 */
import type { Redis } from 'ioredis'
import { deadLetterFields, errorMessage, parseAutoClaimReply, parseDeliveryCounts, parseReadReply, type StreamMessage } from './stream-protocol.js'

export interface Delivery {
  message: StreamMessage
  deliveries: number
}

export class ConsumerGroup {
  constructor(
    private readonly conn: () => Redis,
    private readonly stream: string,
    private readonly group: string,
    private readonly consumer: string,
    private readonly deadLetterStream: string,
  ) {}

  private cmd(command: string, ...args: (string | number)[]): Promise<unknown> {
    return this.conn().call(command, ...args)
  }

  /** Creates the group from '0' (events published before it existed are not skipped); true if it was created now. */
  async ensure(): Promise<boolean> {
    try {
      await this.cmd('XGROUP', 'CREATE', this.stream, this.group, '0', 'MKSTREAM')
      return true
    } catch (err) {
      if (/BUSYGROUP/.test(errorMessage(err))) return false
      throw err
    }
  }

  /** New entries, each on its first delivery. */
  async read(count: number, blockMs: number): Promise<Delivery[]> {
    const reply = await this.cmd('XREADGROUP', 'GROUP', this.group, this.consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.stream, '>')
    return parseReadReply(reply).map((message) => ({ message, deliveries: 1 }))
  }

  /** One page of XAUTOCLAIM: entries idle longer than `idleMs` become ours, with their counts. */
  async claimIdle(idleMs: number, cursor: string, count: number): Promise<{ cursor: string; claimed: Delivery[] }> {
    const page = parseAutoClaimReply(await this.cmd('XAUTOCLAIM', this.stream, this.group, this.consumer, idleMs, cursor, 'COUNT', count))
    if (page.messages.length === 0) return { cursor: page.cursor, claimed: [] }
    const first = page.messages[0]!.id
    const last = page.messages[page.messages.length - 1]!.id
    const counts = parseDeliveryCounts(await this.cmd('XPENDING', this.stream, this.group, first, last, 10_000, this.consumer))
    return { cursor: page.cursor, claimed: page.messages.map((message) => ({ message, deliveries: counts.get(message.id) ?? 2 })) }
  }

  ack(id: string): Promise<unknown> {
    return this.cmd('XACK', this.stream, this.group, id)
  }

  /**
   * Entries read but never attempted (stopping): RETRYCOUNT takes back the delivery the read
   * counted, and IDLE makes them claimable by another replica at once.
   */
  async handBack(rest: Delivery[], idleMs: number): Promise<void> {
    for (const { message, deliveries } of rest) {
      await this.cmd('XCLAIM', this.stream, this.group, this.consumer, 0, message.id, 'IDLE', idleMs, 'RETRYCOUNT', Math.max(0, deliveries - 1), 'JUSTID')
    }
  }

  /** Still ours, idle time reset (no other replica reclaims it), no delivery counted; false if it is gone. */
  async hold(id: string): Promise<boolean> {
    const claimed = await this.cmd('XCLAIM', this.stream, this.group, this.consumer, 0, id, 'JUSTID')
    return Array.isArray(claimed) && claimed.length > 0
  }

  /** Delivered again to ourselves, counted; its count, or undefined if acknowledged or deleted meanwhile. */
  async redeliver(id: string): Promise<number | undefined> {
    const claimed = await this.cmd('XCLAIM', this.stream, this.group, this.consumer, 0, id)
    if (!Array.isArray(claimed) || claimed.length === 0) return undefined
    return parseDeliveryCounts(await this.cmd('XPENDING', this.stream, this.group, id, id, 1)).get(id)
  }

  /** One MULTI: the dead letter and the acknowledgement happen together or not at all. */
  async deadLetter(message: StreamMessage, err: unknown, deliveries: number): Promise<void> {
    const results = await this.conn()
      .multi([
        ['xadd', this.deadLetterStream, '*', ...deadLetterFields(message, err, deliveries, this.consumer)],
        ['xack', this.stream, this.group, message.id],
      ])
      .exec()
    const failed = results?.find(([e]) => e)
    if (!results || failed) throw failed?.[0] ?? new Error('dead-letter transaction aborted')
  }
}
