/**
 * "Everything this subject may do on this object" (SpiceDB #1173): every public permission
 * of the resource's type, read from the schema in force, answered by ONE CheckBulkPermissions
 * call so all answers come from the same revision (one `checkedAt`).
 *
 * Which permissions are public: domain.md says the names in its tables are the contract and
 * that schema.zed may add internal ones. schema.zed marks those by the `internal_` prefix,
 * plus `pairable` (named in its header as ours). They compute other permissions and govern
 * events; a UI has no button for them, and listing them would turn them into contract.
 */
import type { EnginePort } from '../../engine/port.js'
import { resolveConsistency, type ConsistencyInput } from '../wire/consistency.js'
import { outcome, toCheckItem, type CheckOutcome } from './check.js'
import { fromEngineError } from '../wire/engine-errors.js'
import { GatewayError } from '../wire/errors.js'
import { isInternalName } from '../schema/internal-types.js'
import { parseObject } from '../wire/refs.js'
import { readSchema } from '../schema/model.js'

/** schema permissions that are not contract though they lack the `internal_` prefix */
const INTERNAL_NAMES = new Set(['pairable'])

export const isPublicPermission = (name: string) => !isInternalName(name) && !INTERNAL_NAMES.has(name)

/** The public permissions of each definition, in schema order. */
export function publicPermissions(schemaText: string): Map<string, string[]> {
  const byType = new Map<string, string[]>()
  for (const def of readSchema(schemaText).definitions.values()) {
    byType.set(def.name, def.permissions.map((p) => p.name).filter(isPublicPermission))
  }
  return byType
}

export interface PermissionsInput {
  resource: string
  subject: string
  context?: Record<string, unknown>
  consistency?: ConsistencyInput
}

export type PermissionAnswer = { permission: string } & CheckOutcome

export interface PermissionsAnswer {
  resource: string
  subject: string
  permissions: PermissionAnswer[]
  checkedAt: string
}

export async function allPermissions(
  engine: EnginePort,
  permissionsByType: Map<string, string[]>,
  input: PermissionsInput,
  now: Date,
): Promise<PermissionsAnswer> {
  const { type } = parseObject(input.resource, 'resource')
  const names = permissionsByType.get(type)
  if (!names) {
    throw new GatewayError('GW_UNKNOWN_TYPE', 400, `resource: the schema has no type ${JSON.stringify(type)}`, 'resource')
  }
  const items = names.map((permission) => toCheckItem({ ...input, permission }, now))
  const consistency = resolveConsistency(input.consistency)
  let answer
  try {
    // one engine call; may be empty when a type has no permissions (e.g. none public)
    answer = items.length ? await engine.check(items, consistency) : undefined
  } catch (err) {
    throw fromEngineError(err, { resource: 'resource', subject: 'subject', context: 'context' })
  }
  const permissions = names.map((permission, i): PermissionAnswer => {
    const r = answer!.results[i]!
    // an item error is the whole answer's error: a partial list would read as "not allowed"
    if (r.error) throw fromEngineError(r.error, { resource: 'resource', subject: 'subject', context: 'context' })
    return { permission, ...outcome(r) }
  })
  return { resource: input.resource, subject: input.subject, permissions, checkedAt: answer?.checkedAt ?? '' }
}
