/**
 * Removing access wholesale: a person leaving or deactivated in an organization (I8), and an
 * object deleted with everything that pointed at it (I7). Each is one write. Both read
 * "everything X holds" through filters no precondition can pin as a whole, so each reads its
 * guard first and rotates (or retires) it: every event that adds to what they remove rotates
 * the same guard, so it either lands before the read or makes this write fail (guards.ts).
 */
import type { Relationship } from '../../../engine/port.js'
import { ORG_ROLE_RELATIONS } from '../contract/catalogue.js'
import { objectGuard, personGuard, readGuards, retire, rotate } from './guards.js'
import { ownerUntouchable, primaryCoachOfClients, unknownObject } from './refusals.js'
import { WritePlan, obj, readAll, relationsHeld, user } from './write-plan.js'
import { memberTuples, org, ownerTuple, pairingsInOrg, personTuplesInOrg, type TranslateContext, type Translator } from './context.js'

/** Everything the person holds in the organization: org relations, client, group and program tuples, co-authorships. */
async function accessInOrg(ctx: TranslateContext, orgId: string, userId: string) {
  const [mine, clients, groups, programs, courses] = await Promise.all([
    memberTuples(ctx, orgId, userId),
    pairingsInOrg(ctx, orgId, userId),
    personTuplesInOrg(ctx, 'group', orgId, userId),
    personTuplesInOrg(ctx, 'program', orgId, userId),
    personTuplesInOrg(ctx, 'course', orgId, userId),
  ])
  const coAuthorships = courses.inOrg.filter((r) => r.relation === 'co_author')
  return { mine, clients, tuples: [...mine, ...clients.tuples, ...groups.inOrg, ...programs.inOrg, ...coAuthorships] }
}

async function removePerson(ctx: TranslateContext, eventId: string, orgId: string, userId: string, doing: string): Promise<WritePlan> {
  const guards = await readGuards(ctx.engine, [personGuard(userId)])
  const [owner, access] = await Promise.all([ownerTuple(ctx, orgId), accessInOrg(ctx, orgId, userId)])
  if (!owner) throw unknownObject(`organization:${orgId}`, 'organization.created')
  if (owner.subject.id === userId) throw ownerUntouchable(orgId, userId, doing)
  if (access.clients.primaryOf.length > 0) throw primaryCoachOfClients(orgId, userId, access.clients.primaryOf, doing)
  const plan = new WritePlan().require(owner)
  plan.pinSet(org(orgId), ORG_ROLE_RELATIONS, user(userId), relationsHeld(access.mine, ORG_ROLE_RELATIONS))
  for (const r of access.tuples) plan.remove(r)
  return rotate(plan, guards, eventId)
}

export const userDeactivated: Translator<'user.deactivated'> = (ctx, { id, data }) => removePerson(ctx, id, data.organizationId, data.userId, 'deactivate')

export const memberRemoved: Translator<'organization.member_removed'> = (ctx, { id, data }) => removePerson(ctx, id, data.organizationId, data.userId, 'remove')

/** Every relationship of the object, as resource and as subject wherever the schema allows it. */
async function pointingAt(ctx: TranslateContext, type: string, id: string): Promise<Relationship[]> {
  const asResource = readAll(ctx.engine, { resourceType: type, resourceId: id })
  const asSubject = ctx.schema.usesOf(type).map((u) => readAll(ctx.engine, { resourceType: u.resourceType, relation: u.relation, subject: obj(type, id) }))
  return (await Promise.all([asResource, ...asSubject])).flat()
}

async function deleteObject(ctx: TranslateContext, type: string, id: string): Promise<WritePlan> {
  const [guard] = await readGuards(ctx.engine, [objectGuard(type, id)])
  const plan = retire(new WritePlan(), guard!)
  for (const r of await pointingAt(ctx, type, id)) plan.remove(r)
  return plan
}

export const programDeleted: Translator<'program.deleted'> = (ctx, { data }) => deleteObject(ctx, 'program', data.programId)
export const clientDeleted: Translator<'client.deleted'> = (ctx, { data }) => deleteObject(ctx, 'client', data.clientId)
export const groupDeleted: Translator<'group.deleted'> = (ctx, { data }) => deleteObject(ctx, 'group', data.groupId)
