/**
 * Idempotency keys in Redis: they survive restarts and are shared by every replica. A claim is
 * one atomic SET NX with a short lease (2 s) that the holder renews every 500 ms while
 * applying: a replica that dies mid-apply frees the event within 2 s, and a living one would
 * have to miss three renewals in a row to lose it. Completion stores the ZedToken for the
 * configured retention period.
 */
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Claim, IdempotencyStore } from '../domain/events/apply/idempotency.js'
import { GatewayError } from '../domain/wire/errors.js'

/** SET NX, or the value already there, in one round trip */
const CLAIM = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return '' end
return redis.call('GET', KEYS[1])`

/** deletes the key only if this delivery still holds the claim */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/** extends the lease only if this delivery still holds the claim */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`

export interface RedisIdempotencyOptions {
  ttlSeconds: number
  /**
   * how long a claim holds unless renewed, in ms (default 2000; the holder renews every quarter
   * of it). It bounds how long a resend waits after the holder crashed. Much shorter than the
   * stream consumer's takeover idle time (30 s), so a message reclaimed from a dead replica
   * finds its claim already lapsed.
   */
  leaseMs?: number
  /** the same in seconds (older option); leaseMs wins */
  leaseSeconds?: number
  prefix?: string
}

export const DEFAULT_LEASE_MS = 2000

const unavailable = (err: unknown) => new GatewayError('GW_STORE_UNAVAILABLE', 503, `the idempotency store (redis) is unavailable: ${(err as Error).message}`)

export class RedisIdempotencyStore implements IdempotencyStore {
  readonly description = 'redis'
  readonly shared = true
  private readonly prefix: string
  /** ms */
  private readonly lease: number
  readonly renewEveryMs: number

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisIdempotencyOptions,
  ) {
    this.prefix = options.prefix ?? 'trellis:event:'
    this.lease = options.leaseMs ?? (options.leaseSeconds !== undefined ? options.leaseSeconds * 1000 : DEFAULT_LEASE_MS)
    this.renewEveryMs = this.lease / 4
  }

  async renew(key: string, token: string): Promise<void> {
    await this.redis.eval(RENEW, 1, this.prefix + key, token, String(this.lease))
  }

  async claim(key: string): Promise<Claim> {
    const token = `pending:${randomUUID()}`
    let found: unknown
    try {
      found = await this.redis.eval(CLAIM, 1, this.prefix + key, token, String(this.lease))
    } catch (err) {
      throw unavailable(err)
    }
    if (found === '') return { state: 'claimed', token }
    if (typeof found === 'string' && found.startsWith('done:')) {
      // done:<writtenAt>#<fingerprint>; records from before fingerprints have no '#' (ZedTokens never do)
      const [writtenAt, fingerprint] = found.slice('done:'.length).split('#') as [string, string?]
      return fingerprint ? { state: 'done', writtenAt, fingerprint } : { state: 'done', writtenAt }
    }
    return { state: 'pending' }
  }

  async complete(key: string, _token: string, writtenAt: string, fingerprint?: string): Promise<void> {
    try {
      await this.redis.set(this.prefix + key, `done:${writtenAt}${fingerprint ? `#${fingerprint}` : ''}`, 'EX', this.options.ttlSeconds)
    } catch (err) {
      throw unavailable(err)
    }
  }

  async release(key: string, token: string): Promise<void> {
    try {
      await this.redis.eval(RELEASE, 1, this.prefix + key, token)
    } catch {
      // The lease expires on its own; the caller is already reporting the original failure.
    }
  }
}
