/**
 * What every translator receives, and the reads about organizations and people that several
 * translators share.
 */
import type { EnginePort, Relationship } from '../../../engine/port.js'
import { isPairing, primariesOf } from '../../invariants/rules.js'
import type { SchemaIndex } from '../../schema/subject-uses.js'
import type { EventOf, EventType } from '../contract/schemas.js'
import { inOrganization, obj, readAll, user, type WritePlan } from './write-plan.js'

export interface TranslateContext {
  engine: EnginePort
  schema: SchemaIndex
  /** the acting user's id, when the event names one */
  actorId?: string
}

/** Reads the state an event depends on, enforces the invariants, and plans one write. */
export type Translator<T extends EventType> = (ctx: TranslateContext, event: EventOf<T>) => Promise<WritePlan>

export const org = (id: string) => obj('organization', id)

export async function ownerTuple(ctx: TranslateContext, orgId: string): Promise<Relationship | undefined> {
  const found = await readAll(ctx.engine, { resourceType: 'organization', resourceId: orgId, relation: 'owner' })
  return found[0]
}

/** every relationship of the organization naming this person (roles, privileges, permissions) */
export function memberTuples(ctx: TranslateContext, orgId: string, userId: string): Promise<Relationship[]> {
  return readAll(ctx.engine, { resourceType: 'organization', resourceId: orgId, subject: user(userId) })
}

/** the relationships of a type whose object belongs to the organization and names this person */
export async function personTuplesInOrg(ctx: TranslateContext, type: string, orgId: string, userId: string) {
  const all = await readAll(ctx.engine, { resourceType: type, subject: user(userId) })
  const ids = await inOrganization(
    ctx.engine,
    type,
    all.map((r) => r.resource.id),
    orgId,
  )
  return { inOrg: all.filter((r) => ids.has(r.resource.id)) }
}

/** A person's pairings with the organization's clients, and the clients they are primary of. */
export async function pairingsInOrg(ctx: TranslateContext, orgId: string, userId: string) {
  const { inOrg } = await personTuplesInOrg(ctx, 'client', orgId, userId)
  const primaryOf = primariesOf(inOrg).map((r) => r.resource.id)
  return { tuples: inOrg, pairings: inOrg.filter((r) => isPairing(r.relation)), primaryOf }
}
