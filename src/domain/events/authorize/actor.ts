/**
 * The actor rule: an event that names an actor is applied only if the actor holds the
 * permission that governs it (governing.ts), checked fully consistent so a permission just
 * revoked is never used. When the event takes something the person already holds, the actor
 * also needs the permission over what is lost; what the person held is returned as
 * preconditions for the event's write, so the loss the actor was judged on is the loss the
 * write makes (a role changed in between makes the write fail and the event re-plan).
 * Fails closed: anything but has_permission is a 403.
 */
import type { EnginePort, ObjectRef, Precondition } from '../../../engine/port.js'
import { fromEngineError } from '../../wire/engine-errors.js'
import { forbidden } from '../../wire/errors.js'
import { PROGRAM_ROLES } from '../contract/catalogue.js'
import { GOVERNING, type Governing } from './governing.js'
import type { DomainEvent } from '../contract/schemas.js'
import { WritePlan, obj, readAll, relationsHeld, user } from '../translate/write-plan.js'

type OnResource = Exclude<Governing, { self: string } | { platformOnly: true }>

/** The relations whose holding changes what the actor needs: program roles and the `byHeld` of every loss. */
function watched(rule: OnResource): string[] {
  const out = new Set<string>()
  if ('permissionByRole' in rule) for (const role of PROGRAM_ROLES) out.add(role)
  for (const loss of rule.takes ?? []) for (const relation of Object.keys(loss.byHeld ?? {})) out.add(relation)
  return [...out]
}

/**
 * The permissions the actor needs on the resource, and the pins on what the named person
 * holds that those needs were computed from.
 */
async function needs(engine: EnginePort, rule: OnResource, resource: ObjectRef, data: Record<string, string>) {
  const relations = watched(rule)
  if (relations.length === 0 || !data.userId) {
    return { permissions: ['permission' in rule ? rule.permission : rule.permissionByRole[data.role!]!], why: [''], pins: [] }
  }
  const subject = user(data.userId)
  const mine = await readAll(engine, { resourceType: resource.type, resourceId: resource.id, subject })
  const held = relationsHeld(mine, relations)
  // permission -> why it is needed (the first reason wins), for the refusal's message
  const permissions = new Map<string, string>()
  const need = (permission: string, why: string) => void (permissions.has(permission) || permissions.set(permission, why))
  if ('permission' in rule) need(rule.permission, '')
  else if (rule.roleFrom === 'data') need(rule.permissionByRole[data.role!]!, '')
  else {
    const roles = PROGRAM_ROLES.filter((r) => held.has(r))
    for (const role of roles.length > 0 ? roles : ['participant']) need(rule.permissionByRole[role]!, ` (it takes ${role} from user:${data.userId})`)
  }
  for (const loss of rule.takes ?? []) {
    for (const [relation, permission] of Object.entries(loss.byHeld ?? {})) {
      // Assigning the role the person already holds takes nothing.
      const kept = 'roleFrom' in rule && rule.roleFrom === 'data' && relation === data.role
      if (held.has(relation) && !kept) need(permission, ` (it takes ${relation} from user:${data.userId})`)
    }
  }
  const pins = new WritePlan().pinSet(resource, relations, subject, held).preconditions
  return { permissions: [...permissions.keys()], why: [...permissions.values()], pins }
}

/**
 * Throws 403 unless the actor may cause the event; returns the preconditions the event's write
 * must carry (empty when the decision did not depend on what anyone holds).
 */
export async function authorizeActor(engine: EnginePort, event: DomainEvent, now: Date): Promise<Precondition[]> {
  if (!event.actor) return []
  const actorId = event.actor.slice('user:'.length)
  const rule = GOVERNING[event.type]
  const data = event.data as Record<string, string>
  if ('platformOnly' in rule) throw forbidden(`${event.type} is emitted by the platform only; send it without an actor`)
  if ('self' in rule) {
    if (data[rule.self] === actorId) return []
    throw forbidden(`${event.actor} may not send ${event.type}: only user:${data[rule.self]} can`, { actor: event.actor })
  }
  const resource = obj(rule.resourceType, data[rule.idFrom]!)
  let missing: { permission: string; why: string } | undefined
  let pins: Precondition[]
  try {
    const need = await needs(engine, rule, resource, data)
    pins = need.pins
    const context = { now: now.toISOString() }
    const answer = await engine.check(
      need.permissions.map((permission) => ({ resource, permission, subject: user(actorId), context })),
      { mode: 'fully_consistent' },
    )
    for (const [i, r] of answer.results.entries()) {
      if (r?.error) throw r.error
      if (r?.permissionship !== 'has_permission') missing ??= { permission: need.permissions[i]!, why: need.why[i]! }
    }
    if (answer.results.length !== need.permissions.length) missing ??= { permission: need.permissions[0]!, why: need.why[0]! }
  } catch (err) {
    throw fromEngineError(err)
  }
  if (missing) {
    throw forbidden(`${event.actor} lacks ${missing.permission} on ${resource.type}:${resource.id}, which ${event.type} requires${missing.why}`, {
      actor: event.actor,
      resource: `${resource.type}:${resource.id}`,
      permission: missing.permission,
    })
  }
  return pins
}
