/**
 * Consistency requested by callers, and the context the gateway controls.
 */
import type { Consistency } from '../../engine/port.js'
import { badRequest } from './errors.js'

export interface ConsistencyInput {
  mode: 'minimize_latency' | 'at_least_as_fresh' | 'fully_consistent'
  token?: string
}

/**
 * The gateway's default freshness: at least as fresh as every write any replica of the
 * gateway acknowledged (the engine supplies the token from its ZedTokenStore), so a read
 * made after a write never sees the state before it (no new-enemy problem). See
 * docs/consistency.md.
 */
export const READ_YOUR_WRITES: Consistency = Object.freeze({ mode: 'at_least_as_fresh' })

/**
 * Without a caller's choice the gateway reads its own writes. A caller's `fully_consistent`
 * or `at_least_as_fresh` is honoured and, in the engine, never answered older than the
 * gateway's writes either; `minimize_latency` is the caller's explicit trade.
 */
export function resolveConsistency(input: ConsistencyInput | undefined, field = 'consistency'): Consistency {
  if (!input) return READ_YOUR_WRITES
  if (input.mode === 'at_least_as_fresh') {
    if (!input.token) throw badRequest(`${field}.token`, 'is required when mode is at_least_as_fresh')
    return { mode: 'at_least_as_fresh', token: input.token }
  }
  return { mode: input.mode }
}

/** Context keys the gateway supplies itself; callers may not pass or override them. */
export const RESERVED_CONTEXT = ['now'] as const

/**
 * The caveat context sent with every check and lookup: the caller's keys plus the gateway's
 * clock, so section release times are judged against the gateway's `now`, never the caller's.
 */
export function withGatewayContext(context: Record<string, unknown> | undefined, now: Date, field = 'context'): Record<string, unknown> {
  for (const key of RESERVED_CONTEXT) {
    if (context && Object.prototype.hasOwnProperty.call(context, key)) {
      throw badRequest(`${field}.${key}`, 'is supplied by the gateway and cannot be passed', 'GW_RESERVED_CONTEXT')
    }
  }
  return { ...context, now: now.toISOString() }
}
