/**
 * ZedTokens shared by every replica through Redis: one SET per SpiceDB datastore
 * (`trellis:zedtokens:<datastore id>`), so replicas over the same datastore share it and a
 * gateway pointed at another datastore never mixes its tokens in.
 *
 * A write's replica SADDs the token before acknowledging the write. A read fetches the SET
 * (one SMEMBERS) *after* it arrives: reads that arrive while a fetch is in flight wait for the
 * next one, which starts after them, so a shared fetch never answers from before a read began
 * (the mistake SpiceDB's shared head-revision lookup makes, issue 7 item 2). A local cache or
 * a pub/sub invalidation would save the round trip but could miss a write another replica
 * acknowledged a moment ago, so there is none.
 *
 * Covered tokens are removed (SREM) by whoever notices them; a token is removed only when
 * another member covers it, so the frontier survives concurrent pruning.
 */
import type { Redis } from 'ioredis'
import { splitFrontier, type ZedTokenStore } from '../engine/consistency/zedtoken-store.js'

export interface RedisZedTokenStoreOptions {
  /** the datastore's unique id, from any ZedToken it issued */
  datastoreId: string
  prefix?: string
  /** a SET untouched this long is dropped: its tokens are older than any revision still read */
  ttlSeconds?: number
}

export class RedisZedTokenStore implements ZedTokenStore {
  readonly description = 'redis'
  private readonly key: string
  private readonly ttlSeconds: number
  private running?: Promise<string[]>
  private queued?: Promise<string[]>

  constructor(
    private readonly redis: Redis,
    opts: RedisZedTokenStoreOptions,
  ) {
    this.key = `${opts.prefix ?? 'trellis:'}zedtokens:${opts.datastoreId || 'unknown'}`
    this.ttlSeconds = opts.ttlSeconds ?? 86_400
  }

  async record(token: string): Promise<void> {
    const res = await this.redis.multi().sadd(this.key, token).expire(this.key, this.ttlSeconds).exec()
    const failed = res?.find(([err]) => err)
    if (!res || failed) throw failed?.[0] ?? new Error('redis refused the token write')
  }

  /** One SMEMBERS that started after the call; concurrent calls share the next one. */
  frontier(): Promise<string[]> {
    if (this.queued) return this.queued
    if (!this.running) return this.start()
    const after = this.running.catch(() => undefined)
    this.queued = after.then(() => {
      this.queued = undefined
      return this.start()
    })
    return this.queued
  }

  private start(): Promise<string[]> {
    const p = this.fetch().finally(() => {
      if (this.running === p) this.running = undefined
    })
    this.running = p
    return p
  }

  private async fetch(): Promise<string[]> {
    const members = await this.redis.smembers(this.key)
    if (members.length <= 1) return members
    const { frontier, covered } = splitFrontier(members)
    // Pruning is housekeeping: a failure leaves covered tokens that the next read prunes.
    if (covered.length) this.redis.srem(this.key, ...covered).catch(() => undefined)
    return frontier
  }
}
