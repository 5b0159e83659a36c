/**
 * The two timing rules the gateway uses in several places, said once: how long to wait before
 * trying again, and how long to wait for an answer. (Sleeping is Node's own
 * `setTimeout` from `node:timers/promises`.)
 */
import { setTimeout as sleep } from 'node:timers/promises'

/** Exponential backoff: `baseMs` before the first retry, doubling per attempt, never above `maxMs`. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
}

/** "Full jitter": a random wait up to the backoff, so retries that collided do not collide again. */
export function jitteredMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  return random() * backoffMs(attempt, baseMs, maxMs)
}

/**
 * `work`, or what `late()` gives (a value, or a throw) when it has not settled within `ms`.
 * The timer does not keep the process alive, and is cleared once `work` settles.
 */
export async function within<T>(work: Promise<T>, ms: number, late: () => T): Promise<T> {
  const timer = new AbortController()
  const timeout = sleep(ms, undefined, { ref: false, signal: timer.signal }).then(late, () => undefined as T)
  try {
    return await Promise.race([work, timeout])
  } finally {
    timer.abort()
  }
}
