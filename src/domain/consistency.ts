/**
 * Consistency requested by callers, and the context the gateway controls.
 */
import type { Consistency } from '../engine/port.js'
import { badRequest } from './errors.js'

export interface ConsistencyInput {
  mode: 'minimize_latency' | 'at_least_as_fresh' | 'fully_consistent'
  token?: string
}

/**
 * Without a caller's choice the gateway answers fully consistent: a check made after a write
 * the gateway applied never sees the state before it (no new-enemy problem).
 */
export function resolveConsistency(input: ConsistencyInput | undefined, field = 'consistency'): Consistency {
  if (!input) return { mode: 'fully_consistent' }
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
export function withGatewayContext(
  context: Record<string, unknown> | undefined,
  now: Date,
  field = 'context',
): Record<string, unknown> {
  for (const key of RESERVED_CONTEXT) {
    if (context && Object.prototype.hasOwnProperty.call(context, key)) {
      throw badRequest(`${field}.${key}`, 'is supplied by the gateway and cannot be passed', 'GW_RESERVED_CONTEXT')
    }
  }
  return { ...context, now: now.toISOString() }
}
