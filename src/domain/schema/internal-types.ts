/**
 * What the schema marks as the gateway's own: names that start with `internal_` (schema.zed's
 * header says so). Internal permissions compute others and are left out of answers that list
 * permissions; internal types hold the gateway's own state, the write guards of
 * events/guards.ts. A guard's id is a hash of a person's id, so anyone can compute it: a caller
 * who could touch or delete guards would reopen the races they close, or make every guarded
 * event about a person re-plan in a loop. So no key writes, deletes or preconditions on them,
 * whatever its scopes (also with keys off: they are no caller's data), and reading them needs
 * `admin`.
 */
import { GatewayError } from '../wire/errors.js'
import type { RelationshipFilter } from '../../engine/port.js'

export const INTERNAL_PREFIX = 'internal_'

/** a permission, relation or type name the schema marks internal */
export const isInternalName = (name: string) => name.startsWith(INTERNAL_PREFIX)

/** a type, with or without a `prefix/` namespace, the schema marks internal */
export const isInternalType = (type: string) => isInternalName(type.slice(type.lastIndexOf('/') + 1))

/** the type of a `type:id` or `type:id#relation` reference */
export const typeOf = (ref: string) => ref.slice(0, ref.indexOf(':'))

const refusal = (field: string, type: string) =>
  new GatewayError(
    'GW_INTERNAL_TYPE',
    403,
    `${field}: ${type} is the gateway's own state (the schema marks ${INTERNAL_PREFIX}* types internal); no key may write, delete or require it`,
    field,
  )

/** refuses a write that names an internal type, as resource or as subject */
export function refuseInternal(types: { resource: string; subject?: string }, field: string): void {
  for (const type of [types.resource, types.subject]) if (type !== undefined && isInternalType(type)) throw refusal(field, type)
}

/** refuses a delete filter or precondition that reaches an internal type; `field` names the filter */
export function refuseInternalFilter(filter: RelationshipFilter, given: { resource?: string }, field: string): void {
  if (isInternalType(filter.resourceType)) throw refusal(`${field}.${given.resource ? 'resource' : 'resourceType'}`, filter.resourceType)
  if (filter.subject && isInternalType(filter.subject.type)) throw refusal(`${field}.subject`, filter.subject.type)
}
