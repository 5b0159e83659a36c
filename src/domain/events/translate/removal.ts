/**
 * Removing access wholesale: a person leaving or deactivated in an organization (I8), and an
 * object deleted with everything that pointed at it (I7). Each is one write; a sweep after it
 * catches relationships a concurrent event added between the read and the write.
 */
import type { Relationship } from '../../../engine/port.js'
import { ORG_ROLE_RELATIONS } from '../catalogue.js'
import { ownerUntouchable, primaryCoachOfClients, unknownObject } from '../invariants.js'
import { WritePlan, obj, readAll, relationsHeld, user } from '../state.js'
import { memberTuples, org, ownerTuple, pairingsInOrg, personTuplesInOrg, pinNoNewPrimary, type TranslateContext, type Translator } from './context.js'

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

async function removePerson(ctx: TranslateContext, orgId: string, userId: string, doing: string): Promise<WritePlan> {
  const owner = await ownerTuple(ctx, orgId)
  if (!owner) throw unknownObject(`organization:${orgId}`, 'organization.created')
  if (owner.subject.id === userId) throw ownerUntouchable(orgId, userId, doing)
  const access = await accessInOrg(ctx, orgId, userId)
  if (access.clients.primaryOf.length > 0) throw primaryCoachOfClients(orgId, userId, access.clients.primaryOf, doing)
  const plan = new WritePlan().require(owner)
  // Pinning the role set makes a concurrent role change or pairing (which pins the coach role) serialize with us.
  plan.pinSet(org(orgId), ORG_ROLE_RELATIONS, user(userId), relationsHeld(access.mine, ORG_ROLE_RELATIONS))
  pinNoNewPrimary(plan, userId, access.clients.primaryAnywhere)
  for (const r of access.tuples) plan.remove(r)
  plan.sweep = async () => (await accessInOrg(ctx, orgId, userId)).tuples.filter((r) => r.relation !== 'primary')
  return plan
}

export const userDeactivated: Translator<'user.deactivated'> = (ctx, { data }) =>
  removePerson(ctx, data.organizationId, data.userId, 'deactivate')

export const memberRemoved: Translator<'organization.member_removed'> = (ctx, { data }) =>
  removePerson(ctx, data.organizationId, data.userId, 'remove')

/** Every relationship of the object, as resource and as subject wherever the schema allows it. */
async function pointingAt(ctx: TranslateContext, type: string, id: string): Promise<Relationship[]> {
  const asResource = readAll(ctx.engine, { resourceType: type, resourceId: id })
  const asSubject = ctx.schema
    .usesOf(type)
    .map((u) => readAll(ctx.engine, { resourceType: u.resourceType, relation: u.relation, subject: obj(type, id) }))
  return (await Promise.all([asResource, ...asSubject])).flat()
}

export async function deleteObject(ctx: TranslateContext, type: string, id: string): Promise<WritePlan> {
  const found = await pointingAt(ctx, type, id)
  const plan = new WritePlan()
  for (const r of found) plan.remove(r)
  // Relations seen empty must still be empty when the write lands; others are swept after it.
  const seen = new Set(found.filter((r) => r.resource.type === type).map((r) => r.relation))
  for (const relation of ctx.schema.relationsOf(type)) {
    if (!seen.has(relation)) plan.forbid({ resourceType: type, resourceId: id, relation })
  }
  plan.sweep = () => pointingAt(ctx, type, id)
  return plan
}

export const programDeleted: Translator<'program.deleted'> = (ctx, { data }) => deleteObject(ctx, 'program', data.programId)
export const clientDeleted: Translator<'client.deleted'> = (ctx, { data }) => deleteObject(ctx, 'client', data.clientId)
export const groupDeleted: Translator<'group.deleted'> = (ctx, { data }) => deleteObject(ctx, 'group', data.groupId)
