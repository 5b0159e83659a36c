/**
 * The actor rule: an event that names an actor is applied only if the actor holds the
 * permission that governs it (governing.ts), checked fully consistent so a permission just
 * revoked is never used. Fails closed: anything but has_permission is a 403.
 */
import type { EnginePort } from '../../engine/port.js'
import { fromEngineError } from '../engine-errors.js'
import { forbidden } from '../errors.js'
import { PROGRAM_ROLES } from './catalogue.js'
import { GOVERNING } from './governing.js'
import type { DomainEvent } from './schemas.js'
import { obj, readAll, relationsHeld, user } from './state.js'

async function currentProgramRole(engine: EnginePort, programId: string, userId: string): Promise<string> {
  const mine = await readAll(engine, { resourceType: 'program', resourceId: programId, subject: user(userId) })
  // Revoking several roles needs the strongest power among them.
  const held = relationsHeld(mine, PROGRAM_ROLES)
  return ['program_admin', 'facilitator', 'tutor', 'sponsor', 'participant'].find((r) => held.has(r)) ?? 'participant'
}

export async function authorizeActor(engine: EnginePort, event: DomainEvent, now: Date): Promise<void> {
  if (!event.actor) return
  const actorId = event.actor.slice('user:'.length)
  const rule = GOVERNING[event.type]
  const data = event.data as Record<string, string>
  if ('platformOnly' in rule) throw forbidden(`${event.type} is emitted by the platform only; send it without an actor`)
  if ('self' in rule) {
    if (data[rule.self] === actorId) return
    throw forbidden(`${event.actor} may not send ${event.type}: only user:${data[rule.self]} can`, { actor: event.actor })
  }
  const id = data[rule.idFrom]!
  const permission =
    'permission' in rule
      ? rule.permission
      : rule.permissionByRole[rule.roleFrom === 'data' ? data.role! : await currentProgramRole(engine, id, data.userId!)]!
  const resource = obj(rule.resourceType, id)
  let allowed: boolean
  try {
    const answer = await engine.check(
      [{ resource, permission, subject: user(actorId), context: { now: now.toISOString() } }],
      { mode: 'fully_consistent' },
    )
    const r = answer.results[0]
    if (r?.error) throw r.error
    allowed = r?.permissionship === 'has_permission'
  } catch (err) {
    throw fromEngineError(err)
  }
  if (!allowed) {
    throw forbidden(`${event.actor} lacks ${permission} on ${resource.type}:${resource.id}, which ${event.type} requires`, {
      actor: event.actor,
      resource: `${resource.type}:${resource.id}`,
      permission,
    })
  }
}
