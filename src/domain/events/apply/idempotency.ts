/**
 * Exactly-once in effect: an event id is claimed atomically before its event is applied, then
 * completed with the write's ZedToken, or released if applying failed so a retry can claim it
 * again. A second delivery, even one arriving while the first is still being applied, answers
 * `duplicate` with the ORIGINAL writtenAt and writes nothing.
 */
import { createHash, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { GatewayError, conflict } from '../../wire/errors.js'

export type Claim =
  | { state: 'claimed'; token: string }
  /** `fingerprint`: of the payload that was applied (absent in records written before it was kept) */
  | { state: 'done'; writtenAt: string; fingerprint?: string }
  /** another delivery holds the claim and is applying the event now */
  | { state: 'pending' }

export interface IdempotencyStore {
  /** e.g. "redis" or "in-process"; for logs */
  readonly description: string
  /** true when keys survive restarts and are shared by replicas */
  readonly shared: boolean
  claim(key: string): Promise<Claim>
  complete(key: string, token: string, writtenAt: string, fingerprint?: string): Promise<void>
  release(key: string, token: string): Promise<void>
  /**
   * Extends a claim this delivery still holds. Stores whose claims expire (Redis) keep them
   * short, so a replica that dies mid-apply frees the event quickly, and the living holder
   * renews while it works, so a slow apply is never taken over and applied twice.
   */
  renew?(key: string, token: string): Promise<void>
  /** how often renew must run while applying, in ms */
  readonly renewEveryMs?: number
}

export interface Delivery {
  status: 'applied' | 'duplicate'
  writtenAt: string
}

export interface ApplyOnceOptions {
  /** how long a duplicate waits for the delivery that holds the claim */
  waitMs?: number
  /** the payload's fingerprint: a done key with another one is a conflict, not a duplicate */
  fingerprint?: string
  /** aborted (shutdown): a duplicate stops waiting for the claim's holder (503 GW_SHUTTING_DOWN) */
  signal?: AbortSignal
}

/**
 * The idempotency key of an event: its id, scoped to the API key that sent it, so one caller
 * cannot use up (or learn about) another caller's ids. The key name is URI-encoded so no name
 * and id can spell another pair's key.
 */
export const scopedKey = (keyName: string, id: string) => `${encodeURIComponent(keyName)}:${id}`

/** JSON with object keys sorted at every depth: equal payloads give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}

/**
 * SHA-256 of what decides an event's write: type, actor and data, as canonical JSON.
 * `occurredAt` is left out: it does not change what is written, and a producer that stamps
 * its retries anew is still sending the same event.
 */
export function payloadFingerprint(event: { type: string; actor?: string; data: unknown }): string {
  return createHash('sha256')
    .update(canonical({ type: event.type, actor: event.actor ?? null, data: event.data }))
    .digest('hex')
}

const idempotencyConflict = (key: string) =>
  conflict(
    'GW_IDEMPOTENCY_CONFLICT',
    `event id ${key.slice(key.indexOf(':') + 1)} was already used for another payload; an id names one event: send this one under a new id`,
  )

export async function applyOnce(store: IdempotencyStore, key: string, apply: () => Promise<string>, options: ApplyOnceOptions = {}): Promise<Delivery> {
  const deadline = Date.now() + (options.waitMs ?? 30_000)
  for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
    const claim = await store.claim(key)
    if (claim.state === 'done') {
      if (options.fingerprint && claim.fingerprint && claim.fingerprint !== options.fingerprint) throw idempotencyConflict(key)
      return { status: 'duplicate', writtenAt: claim.writtenAt }
    }
    if (claim.state === 'claimed') {
      const renewal =
        store.renew && store.renewEveryMs ? setInterval(() => void store.renew!(key, claim.token).catch(() => undefined), store.renewEveryMs) : undefined
      try {
        let writtenAt: string
        try {
          writtenAt = await apply()
        } catch (err) {
          await store.release(key, claim.token)
          throw err
        }
        await completeWithRetry(store, key, claim.token, writtenAt, options.fingerprint)
        return { status: 'applied', writtenAt }
      } finally {
        clearInterval(renewal)
      }
    }
    if (Date.now() > deadline) {
      throw new GatewayError('GW_EVENT_IN_PROGRESS', 503, `event ${key} is being applied by another delivery; retry later`)
    }
    if (options.signal?.aborted) {
      throw new GatewayError('GW_SHUTTING_DOWN', 503, `the gateway is shutting down; event ${key} was not applied here, resend it`)
    }
    await sleep(wait)
  }
}

/** backoff between attempts to mark an applied event done: about 1.5 s in all */
const COMPLETE_RETRY_MS = [50, 100, 200, 400, 800]

/**
 * The event is applied; recording that can fail on a Redis blip. Retried while the claim is
 * still renewed (the caller's timer runs on), because a claim left pending blocks every resend
 * until its lease lapses, and then the resend applies the event again. If every attempt fails,
 * the error goes to the caller (503) and the lease frees the event.
 */
async function completeWithRetry(store: IdempotencyStore, key: string, token: string, writtenAt: string, fingerprint?: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await store.complete(key, token, writtenAt, fingerprint)
    } catch (err) {
      if (attempt >= COMPLETE_RETRY_MS.length) throw err
      await sleep(COMPLETE_RETRY_MS[attempt]!)
    }
  }
}

interface Entry {
  token?: string
  writtenAt?: string
  fingerprint?: string
  expiresAt: number
}

/** Keys in this process only: duplicates are caught within this process, not across restarts or replicas. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly description = 'in-process'
  readonly shared = false
  private readonly entries = new Map<string, Entry>()
  private claims = 0

  constructor(
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(key: string): Promise<Claim> {
    if (++this.claims % 1000 === 0) this.purge()
    const entry = this.entries.get(key)
    if (entry && entry.expiresAt > this.now()) {
      if (!entry.writtenAt) return { state: 'pending' }
      return entry.fingerprint ? { state: 'done', writtenAt: entry.writtenAt, fingerprint: entry.fingerprint } : { state: 'done', writtenAt: entry.writtenAt }
    }
    const token = randomUUID()
    this.entries.set(key, { token, expiresAt: Number.POSITIVE_INFINITY })
    return { state: 'claimed', token }
  }

  async complete(key: string, _token: string, writtenAt: string, fingerprint?: string): Promise<void> {
    this.entries.set(key, { writtenAt, fingerprint, expiresAt: this.now() + this.ttlSeconds * 1000 })
  }

  async release(key: string, token: string): Promise<void> {
    if (this.entries.get(key)?.token === token) this.entries.delete(key)
  }

  private purge() {
    const now = this.now()
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key)
  }
}
