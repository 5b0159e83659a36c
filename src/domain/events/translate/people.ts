/**
 * Groups, courses (I6 co-authors), user supervision and certificates. Adding to a group
 * rotates the group's guard and the person's (guards.ts); a co-authorship, which needs the
 * person's role, rotates the person's. Removals and user-level relations need no guard: no
 * invariant reads them across objects.
 */
import { coAuthorVia } from '../../invariants/rules.js'
import { objectGuard, personGuard, readGuards, rotate } from './guards.js'
import { alreadyExists, notCoAuthorEligible } from './refusals.js'
import { WritePlan, obj, readAll, tuple, user } from './write-plan.js'
import { memberTuples, type TranslateContext, type Translator } from './context.js'
import { createInOrganization, existing } from './program.js'

export const groupCreated: Translator<'group.created'> = async (ctx, { id, data }) => {
  const guards = await readGuards(ctx.engine, [objectGuard('group', data.groupId)])
  const { plan, link } = await createInOrganization(ctx, 'group', data.groupId, data.organizationId)
  return rotate(plan.touch(link), guards, id)
}

/** Adds or removes a person in one relation of a group; adding needs the group to exist. */
const groupRelation =
  (relation: 'coach' | 'member', add: boolean) =>
  async (ctx: TranslateContext, { id, data }: { id: string; data: { groupId: string; userId: string } }): Promise<WritePlan> => {
    const r = tuple(obj('group', data.groupId), relation, user(data.userId))
    if (!add) return new WritePlan().remove(r)
    const guards = await readGuards(ctx.engine, [objectGuard('group', data.groupId), personGuard(data.userId)])
    return rotate(new WritePlan().require(await existing(ctx, 'group', data.groupId)).touch(r), guards, id)
  }

export const groupCoachAdded = groupRelation('coach', true)
export const groupCoachRemoved = groupRelation('coach', false)
export const groupMemberAdded = groupRelation('member', true)
export const groupMemberRemoved = groupRelation('member', false)

export const courseCreated: Translator<'course.created'> = async (ctx, { data }) => {
  const { plan, existing: link, link: newLink } = await createInOrganization(ctx, 'course', data.courseId, data.organizationId)
  const owners = await readAll(ctx.engine, { resourceType: 'course', resourceId: data.courseId, relation: 'owner' })
  if (link && owners.some((o) => o.subject.id !== data.ownerId)) {
    throw alreadyExists(`course:${data.courseId}`, 'it has another owner; change it with course.ownership_reassigned')
  }
  return plan.touch(newLink).touch(tuple(obj('course', data.courseId), 'owner', user(data.ownerId)))
}

export const coAuthorAdded: Translator<'course.co_author_added'> = async (ctx, { id, data }) => {
  const guards = await readGuards(ctx.engine, [personGuard(data.userId)])
  const link = await existing(ctx, 'course', data.courseId)
  const orgId = link.subject.id
  const role = coAuthorVia(await memberTuples(ctx, orgId, data.userId))
  if (!role) throw notCoAuthorEligible(data.courseId, orgId, data.userId)
  const plan = new WritePlan()
    .require(link)
    .require(role)
    .touch(tuple(obj('course', data.courseId), 'co_author', user(data.userId)))
  return rotate(plan, guards, id)
}

export const coAuthorRemoved: Translator<'course.co_author_removed'> = async (_ctx, { data }) =>
  new WritePlan().remove(tuple(obj('course', data.courseId), 'co_author', user(data.userId)))

export const ownershipReassigned: Translator<'course.ownership_reassigned'> = async (ctx, { data }) => {
  const c = obj('course', data.courseId)
  const [link, owners] = await Promise.all([
    existing(ctx, 'course', data.courseId),
    readAll(ctx.engine, { resourceType: 'course', resourceId: data.courseId, relation: 'owner' }),
  ])
  const plan = new WritePlan().require(link)
  for (const o of owners) plan.require(o).remove(o)
  if (owners.length === 0) plan.forbid({ resourceType: 'course', resourceId: data.courseId, relation: 'owner' })
  // The new owner needs no co-authorship on top of ownership.
  return plan.remove(tuple(c, 'co_author', user(data.newOwnerId))).touch(tuple(c, 'owner', user(data.newOwnerId)))
}

export const managerAssigned: Translator<'user.manager_assigned'> = async (_ctx, { data }) =>
  new WritePlan().touch(tuple(obj('user', data.userId), 'manager', user(data.managerId)))

export const managerRemoved: Translator<'user.manager_removed'> = async (_ctx, { data }) =>
  new WritePlan().remove(tuple(obj('user', data.userId), 'manager', user(data.managerId)))

export const coachNominated: Translator<'user.coach_nominated'> = async (_ctx, { data }) =>
  new WritePlan().touch(tuple(obj('user', data.learnerId), 'coach', user(data.coachId)))

export const certificateAwarded: Translator<'certificate.awarded'> = async (ctx, { data }) => {
  const learners = await readAll(ctx.engine, { resourceType: 'certificate', resourceId: data.certificateId, relation: 'learner' })
  const other = learners.find((l) => l.subject.id !== data.learnerId)
  if (other) throw alreadyExists(`certificate:${data.certificateId}`, `it was awarded to user:${other.subject.id}`)
  const plan = new WritePlan()
  if (learners.length === 0) plan.forbid({ resourceType: 'certificate', resourceId: data.certificateId, relation: 'learner' })
  return plan.touch(tuple(obj('certificate', data.certificateId), 'learner', user(data.learnerId)))
}
