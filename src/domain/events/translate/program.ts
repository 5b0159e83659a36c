/**
 * Program and section events: creation, roles (one per person, replaced on the spot, I4),
 * team grants (desired state), group assignment within one organization (I7). Events that
 * add to a program rotate its guard (a concurrent program.deleted cannot leave them behind)
 * and the guard of the person they add (a concurrent deactivation cannot miss them).
 */
import type { Relationship } from '../../../engine/port.js'
import { PROGRAM_GRANTS, PROGRAM_ROLES, grantRelation } from '../contract/catalogue.js'
import { objectGuard, personGuard, readGuards, rotate } from './guards.js'
import { alreadyExists, crossOrganization, unknownObject } from './refusals.js'
import { crossesOrganizations } from '../../invariants/rules.js'
import { WritePlan, obj, organizationOf, readAll, relationsHeld, tuple, user } from './write-plan.js'
import { org, ownerTuple, type TranslateContext, type Translator } from './context.js'

const GRANT_RELATIONS = PROGRAM_GRANTS.map(grantRelation)

/** Creates `type:id` in the organization, or confirms it is already there (a redelivery under a new id). */
export async function createInOrganization(ctx: TranslateContext, type: string, id: string, orgId: string) {
  const [owner, existing] = await Promise.all([ownerTuple(ctx, orgId), organizationOf(ctx.engine, type, id)])
  if (!owner) throw unknownObject(`organization:${orgId}`, 'organization.created')
  if (existing && existing.subject.id !== orgId) {
    throw alreadyExists(`${type}:${id}`, `it belongs to organization:${existing.subject.id}`)
  }
  const plan = new WritePlan().require(owner)
  if (!existing) plan.forbid({ resourceType: type, resourceId: id, relation: 'organization' })
  return { plan, existing, link: tuple(obj(type, id), 'organization', org(orgId)) }
}

/** The program's existence tuple, or a 409 saying which event creates it. */
export async function existing(ctx: TranslateContext, type: string, id: string): Promise<Relationship> {
  const found = await organizationOf(ctx.engine, type, id)
  if (!found) throw unknownObject(`${type}:${id}`, `${type}.created`)
  return found
}

const programGuard = (id: string) => objectGuard('program', id)

export const programCreated: Translator<'program.created'> = async (ctx, { id, data }) => {
  const guards = await readGuards(ctx.engine, [programGuard(data.programId)])
  const { plan, link } = await createInOrganization(ctx, 'program', data.programId, data.organizationId)
  plan.touch(link).touch(tuple(org(data.organizationId), 'program', obj('program', data.programId)))
  return rotate(plan, guards, id)
}

async function programState(ctx: TranslateContext, programId: string, userId: string) {
  const mine = await readAll(ctx.engine, { resourceType: 'program', resourceId: programId, subject: user(userId) })
  return { roles: relationsHeld(mine, PROGRAM_ROLES), grants: relationsHeld(mine, GRANT_RELATIONS) }
}

export const roleAssigned: Translator<'program.role_assigned'> = async (ctx, { id, data }) => {
  const p = obj('program', data.programId)
  const guards = await readGuards(ctx.engine, [programGuard(data.programId), personGuard(data.userId)])
  const [link, { roles }] = await Promise.all([existing(ctx, 'program', data.programId), programState(ctx, data.programId, data.userId)])
  const plan = new WritePlan().require(link).pinSet(p, PROGRAM_ROLES, user(data.userId), roles)
  for (const r of roles) if (r !== data.role) plan.remove(tuple(p, r, user(data.userId)))
  return rotate(plan.touch(tuple(p, data.role, user(data.userId))), guards, id)
}

/**
 * Leaving the program team takes the team grants with the role. It only removes, so it needs
 * no guard; pinning the grants makes a concurrent grants_set land wholly before or after it.
 */
export const roleRevoked: Translator<'program.role_revoked'> = async (ctx, { data }) => {
  const p = obj('program', data.programId)
  const { roles, grants } = await programState(ctx, data.programId, data.userId)
  const plan = new WritePlan().pinSet(p, PROGRAM_ROLES, user(data.userId), roles).pinSet(p, GRANT_RELATIONS, user(data.userId), grants)
  for (const r of [...roles, ...grants]) plan.remove(tuple(p, r, user(data.userId)))
  return plan
}

export const grantsSet: Translator<'program.grants_set'> = async (ctx, { id, data }) => {
  const p = obj('program', data.programId)
  const guards = await readGuards(ctx.engine, [programGuard(data.programId), personGuard(data.userId)])
  const [link, { grants }] = await Promise.all([existing(ctx, 'program', data.programId), programState(ctx, data.programId, data.userId)])
  const plan = new WritePlan().require(link).pinSet(p, GRANT_RELATIONS, user(data.userId), grants)
  const want = new Set(data.grants.map(grantRelation))
  for (const g of grants) if (!want.has(g)) plan.remove(tuple(p, g, user(data.userId)))
  for (const g of want) if (!grants.has(g)) plan.touch(tuple(p, g, user(data.userId)))
  return rotate(plan, guards, id)
}

export const groupAssigned: Translator<'program.group_assigned'> = async (ctx, { id, data }) => {
  const guards = await readGuards(ctx.engine, [programGuard(data.programId), objectGuard('group', data.groupId)])
  const [program, group] = await Promise.all([existing(ctx, 'program', data.programId), existing(ctx, 'group', data.groupId)])
  if (crossesOrganizations(program.subject.id, group.subject.id)) throw crossOrganization(`program:${data.programId}`, `group:${data.groupId}`)
  const plan = new WritePlan().require(program).require(group)
  return rotate(plan.touch(tuple(obj('program', data.programId), 'assigned_group', obj('group', data.groupId))), guards, id)
}

/** A later release is a `release_time` caveat judged against the gateway's clock (A2). */
export const sectionCreated: Translator<'section.created'> = async (ctx, { id, data }) => {
  const s = obj('section', data.sectionId)
  const program = obj('program', data.programId)
  const guards = await readGuards(ctx.engine, [programGuard(data.programId)])
  const [link, current] = await Promise.all([
    existing(ctx, 'program', data.programId),
    readAll(ctx.engine, { resourceType: 'section', resourceId: data.sectionId, relation: 'program' }),
  ])
  const other = current.find((r) => r.subject.id !== data.programId)
  if (other) throw alreadyExists(`section:${data.sectionId}`, `it belongs to program:${other.subject.id}`)
  const release = data.releaseAt
    ? tuple(s, 'release', program, { name: 'release_time', context: { release_at: new Date(data.releaseAt).toISOString() } })
    : tuple(s, 'release', program)
  const plan = new WritePlan().require(link)
  if (current.length === 0) plan.forbid({ resourceType: 'section', resourceId: data.sectionId, relation: 'program' })
  return rotate(plan.touch(tuple(s, 'program', program)).touch(release), guards, id)
}
