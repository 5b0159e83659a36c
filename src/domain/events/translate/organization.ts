/**
 * Organization events: creation, ownership (I2), roles (I4), privileges and coaching
 * permissions (desired state, I3). Each rotates the guard of the person whose relations it
 * changes, so it serializes with every other event about that person (guards.ts).
 */
import { ADMIN_PRIVILEGES, COACHING_PERMISSIONS, ORG_ROLES, type OrgRole } from '../contract/catalogue.js'
import { memberRole, stopsBeingPairable } from '../../invariants/rules.js'
import { notAMember, ownerTransferOnly, ownerUntouchable, primaryCoachOfClients, unknownObject } from './refusals.js'
import { personGuard, readGuards, rotate } from './guards.js'
import { WritePlan, relationsHeld, together, tuple, user } from './write-plan.js'
import { memberTuples, org, ownerTuple, pairingsInOrg, type TranslateContext, type Translator } from './context.js'

export const organizationCreated: Translator<'organization.created'> = async (ctx, { id, data }) => {
  const guards = await readGuards(ctx.engine, [personGuard(data.ownerId)])
  // After the guard, the rest is read at once (the roles are unused if the organization exists).
  const [owner, mine] = await together([ownerTuple(ctx, data.organizationId), memberTuples(ctx, data.organizationId, data.ownerId)] as const)
  const plan = new WritePlan()
  if (owner && owner.subject.id !== data.ownerId) {
    throw ownerTransferOnly(data.organizationId, `organization:${data.organizationId} already exists, owned by user:${owner.subject.id}`)
  }
  if (owner) return plan.require(owner)
  const held = relationsHeld(mine, ORG_ROLES)
  for (const role of held) plan.remove(tuple(org(data.organizationId), role, user(data.ownerId)))
  plan.forbid({ resourceType: 'organization', resourceId: data.organizationId, relation: 'owner' })
  return rotate(plan.touch(tuple(org(data.organizationId), 'owner', user(data.ownerId))), guards, id)
}

/**
 * The old owner needs no guard: while they own the organization, events that would read
 * their other relations there (deactivation, role changes) are refused, and those that
 * change their privileges pin the owner relationship this write removes.
 */
export const ownershipTransferred: Translator<'organization.ownership_transferred'> = async (ctx, { id, data }) => {
  const o = org(data.organizationId)
  const guards = await readGuards(ctx.engine, [personGuard(data.newOwnerId)])
  const [owner, mine] = await together([ownerTuple(ctx, data.organizationId), memberTuples(ctx, data.organizationId, data.newOwnerId)] as const)
  if (!owner) throw unknownObject(`organization:${data.organizationId}`, 'organization.created')
  const plan = new WritePlan().require(owner)
  if (owner.subject.id === data.newOwnerId) return plan
  // The new owner's role is replaced by ownership; the old owner becomes an admin, in this one write.
  const held = relationsHeld(mine, ORG_ROLES)
  plan.pinSet(o, ORG_ROLES, user(data.newOwnerId), held)
  for (const role of held) plan.remove(tuple(o, role, user(data.newOwnerId)))
  plan
    .remove(owner)
    .touch(tuple(o, 'admin', owner.subject))
    .touch(tuple(o, 'owner', user(data.newOwnerId)))
  return rotate(plan, guards, id)
}

/** Sets a person's one organization role (I4), leaving the coach role only if no client needs them as primary (I1). */
async function setRole(ctx: TranslateContext, eventId: string, orgId: string, userId: string, role: OrgRole, mustBeMember: boolean) {
  const o = org(orgId)
  // Read first: pairings that a concurrent pairing.set adds after this read make our write fail.
  const guards = await readGuards(ctx.engine, [personGuard(userId)])
  const [owner, mine] = await Promise.all([ownerTuple(ctx, orgId), memberTuples(ctx, orgId, userId)])
  if (!owner) throw unknownObject(`organization:${orgId}`, 'organization.created')
  if (owner.subject.id === userId) throw ownerTransferOnly(orgId, `user:${userId} is the owner and cannot be given the role "${role}"`)
  const held = relationsHeld(mine, ORG_ROLES)
  if (mustBeMember && held.size === 0) throw notAMember(orgId, userId)
  const plan = new WritePlan().require(owner).pinSet(o, ORG_ROLES, user(userId), held)
  for (const r of held) if (r !== role) plan.remove(tuple(o, r, user(userId)))
  plan.touch(tuple(o, role, user(userId)))
  // I5: someone who stops being pairable keeps no pairing with the organization's clients
  if (stopsBeingPairable(held, [role])) {
    const { pairings, primaryOf } = await pairingsInOrg(ctx, orgId, userId)
    if (primaryOf.length > 0) throw primaryCoachOfClients(orgId, userId, primaryOf, `take the coach role from`)
    for (const p of pairings) plan.remove(p)
  }
  return rotate(plan, guards, eventId)
}

export const memberAdded: Translator<'organization.member_added'> = (ctx, { id, data }) => setRole(ctx, id, data.organizationId, data.userId, data.role, false)

export const memberRoleChanged: Translator<'organization.member_role_changed'> = (ctx, { id, data }) =>
  setRole(ctx, id, data.organizationId, data.userId, data.role, true)

/** Replaces a member's set of org relations among `relations` with `wanted` (desired state). */
async function replaceSet(ctx: TranslateContext, eventId: string, orgId: string, userId: string, relations: readonly string[], wanted: string[], what: string) {
  const o = org(orgId)
  const guards = await readGuards(ctx.engine, [personGuard(userId)])
  const [owner, mine] = await Promise.all([ownerTuple(ctx, orgId), memberTuples(ctx, orgId, userId)])
  if (!owner) throw unknownObject(`organization:${orgId}`, 'organization.created')
  if (owner.subject.id === userId && ctx.actorId !== userId) throw ownerUntouchable(orgId, userId, `change the ${what} of`)
  const role = memberRole(mine)
  if (!role) throw notAMember(orgId, userId)
  const held = relationsHeld(mine, relations)
  const plan = new WritePlan().require(owner).require(role).pinSet(o, relations, user(userId), held)
  const want = new Set(wanted)
  for (const r of held) if (!want.has(r)) plan.remove(tuple(o, r, user(userId)))
  for (const r of want) if (!held.has(r)) plan.touch(tuple(o, r, user(userId)))
  return rotate(plan, guards, eventId)
}

export const privilegesSet: Translator<'organization.privileges_set'> = (ctx, { id, data }) =>
  replaceSet(ctx, id, data.organizationId, data.userId, ADMIN_PRIVILEGES, data.privileges, 'admin privileges')

export const coachingPermissionsSet: Translator<'organization.coaching_permissions_set'> = (ctx, { id, data }) =>
  replaceSet(ctx, id, data.organizationId, data.userId, COACHING_PERMISSIONS, data.permissions, 'coaching permissions')
