/**
 * Permission checks in the gateway's terms. Fails closed: only an engine answer of
 * has_permission, with no error, is ever `allowed: true`.
 */
import type { CheckItem, CheckResult, Consistency, EngineError, EnginePort, Permissionship } from '../../engine/port.js'
import { resolveConsistency, withGatewayContext, type ConsistencyInput } from '../wire/consistency.js'
import { fromEngineError } from '../wire/engine-errors.js'
import { badRequest } from '../wire/errors.js'
import { parseObject, parseSubject } from '../wire/refs.js'

export interface CheckInput {
  resource: string
  permission: string
  subject: string
  context?: Record<string, unknown>
}

export interface CheckOutcome {
  allowed: boolean
  permissionship: Permissionship
  missingContext?: string[]
  error?: string
}

export function toCheckItem(input: CheckInput, now: Date, prefix = ''): CheckItem {
  const resource = parseObject(input.resource, `${prefix}resource`)
  const subject = parseSubject(input.subject, `${prefix}subject`)
  // SpiceDB answers "allowed" when the subject is the very permission asked about, even for an
  // object that does not exist: a tautology, never a question worth answering yes to.
  if (subject.relation === input.permission && subject.type === resource.type && subject.id === resource.id) {
    throw badRequest(`${prefix}subject`, 'is the permission being checked on this resource', 'GW_SELF_REFERENCE')
  }
  return { resource, permission: input.permission, subject, context: withGatewayContext(input.context, now, `${prefix}context`) }
}

export function outcome(r: CheckResult): CheckOutcome {
  const allowed = r.permissionship === 'has_permission' && !r.error
  const out: CheckOutcome = { allowed, permissionship: r.error ? 'no_permission' : r.permissionship }
  if (r.missingContext) out.missingContext = r.missingContext
  if (r.error) out.error = fromEngineError(r.error).message
  return out
}

export async function checkPermission(
  engine: EnginePort,
  input: CheckInput & { consistency?: ConsistencyInput },
  now: Date,
  /** a snapshot of the past to read at (history.ts); the caller's consistency otherwise */
  at?: Consistency,
): Promise<CheckOutcome & { checkedAt: string }> {
  const item = toCheckItem(input, now)
  const consistency = at ?? resolveConsistency(input.consistency)
  let answer
  try {
    answer = await engine.check([item], consistency)
  } catch (err) {
    throw fromEngineError(err, { resource: 'resource', permission: 'permission', subject: 'subject', context: 'context' })
  }
  const r = answer.results[0]!
  // A single check has no per-item error channel: an item error is the whole request's error.
  if (r.error) throw fromEngineError(r.error, { resource: 'resource', permission: 'permission', subject: 'subject', context: 'context' })
  return { ...outcome(r), checkedAt: answer.checkedAt }
}

export async function checkBulk(
  engine: EnginePort,
  input: { items: CheckInput[]; consistency?: ConsistencyInput },
  now: Date,
  /** told of each item the engine failed (answered `allowed: false` with an `error`) */
  onItemError: (err: EngineError) => void = () => undefined,
): Promise<{ results: CheckOutcome[]; checkedAt: string }> {
  const items = input.items.map((i, n) => toCheckItem(i, now, `items.${n}.`))
  const consistency = resolveConsistency(input.consistency)
  try {
    const answer = await engine.check(items, consistency)
    for (const r of answer.results) if (r.error) onItemError(r.error)
    return { results: answer.results.map(outcome), checkedAt: answer.checkedAt }
  } catch (err) {
    throw fromEngineError(err, { resource: 'items', permission: 'items', subject: 'items' })
  }
}
