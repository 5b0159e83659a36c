/**
 * Client events: creation with its primary coach, and pairing (I1 one primary, I5 pairable
 * coaches). A pairing write pins the current primary and the coach's role, so concurrent
 * pairings serialize: one wins, the others re-plan from the new state. It also rotates the
 * guards of the coach (a concurrent deactivation or role change cannot miss the new pairing)
 * and of the client (a concurrent deletion cannot leave it behind).
 */
import type { Relationship } from '../../../engine/port.js'
import { PAIRING_RELATIONS } from '../contract/catalogue.js'
import { isPairing, pairableVia, PRIMARY, primariesOf } from '../../invariants/rules.js'
import { objectGuard, personGuard, readGuards, rotate } from './guards.js'
import { alreadyExists, notPairable, primaryRequired } from './refusals.js'
import { WritePlan, obj, readAll, together, tuple, user } from './write-plan.js'
import { memberTuples, type TranslateContext, type Translator } from './context.js'
import { createInOrganization, existing } from './program.js'

/** the relationship that makes the person pairable (I5); refused when there is none */
async function pairableOrRefused(ctx: TranslateContext, orgId: string, userId: string): Promise<Relationship> {
  const via = pairableVia(await memberTuples(ctx, orgId, userId))
  if (!via) throw notPairable(orgId, userId)
  return via
}

export const clientCreated: Translator<'client.created'> = async (ctx, { id, data }) => {
  const c = obj('client', data.clientId)
  const people = [data.primaryCoachId, ...(data.userId ? [data.userId] : [])]
  const guards = await readGuards(ctx.engine, [objectGuard('client', data.clientId), ...people.map(personGuard)])
  // After the guards, the rest is read at once.
  const [{ plan, existing: link }, via, primaries] = await together([
    createInOrganization(ctx, 'client', data.clientId, data.organizationId),
    pairableOrRefused(ctx, data.organizationId, data.primaryCoachId),
    readAll(ctx.engine, { resourceType: 'client', resourceId: data.clientId, relation: 'primary' }),
  ] as const)
  if (link && primaries.some((p) => p.subject.id !== data.primaryCoachId)) {
    throw alreadyExists(`client:${data.clientId}`, 'it has another primary coach; change it with pairing.set')
  }
  plan.require(via).touch(tuple(c, 'organization', obj('organization', data.organizationId)))
  for (const level of PAIRING_RELATIONS) if (level !== PRIMARY) plan.remove(tuple(c, level, user(data.primaryCoachId)))
  plan.touch(tuple(c, 'primary', user(data.primaryCoachId)))
  if (data.userId) plan.touch(tuple(c, 'account', user(data.userId)))
  return rotate(plan, guards, id)
}

export const pairingSet: Translator<'pairing.set'> = async (ctx, { id, data }) => {
  const c = obj('client', data.clientId)
  const coach = user(data.coachId)
  // Unpairing only removes, which no concurrent event can undo or be misled by: no guards.
  const adds = data.level !== 'none'
  const guards = adds ? await readGuards(ctx.engine, [objectGuard('client', data.clientId), personGuard(data.coachId)]) : []
  const [link, pairings] = await Promise.all([
    existing(ctx, 'client', data.clientId),
    readAll(ctx.engine, { resourceType: 'client', resourceId: data.clientId }),
  ])
  const primaries = primariesOf(pairings)
  const isPrimary = primaries.some((p) => p.subject.id === data.coachId)
  const plan = new WritePlan().require(link)
  // Pin the primary as read: if another event changed it meanwhile, this write fails and is re-planned.
  if (primaries.length === 0) plan.forbid({ resourceType: 'client', resourceId: data.clientId, relation: 'primary' })
  for (const p of primaries) plan.require(p)
  if (isPrimary && data.level !== 'primary') throw primaryRequired(data.clientId, data.coachId)
  const mine = pairings.filter((r) => r.subject.type === 'user' && r.subject.id === data.coachId && isPairing(r.relation))
  plan.pinSet(c, ['coaching', 'view_only'], coach, new Set(mine.map((r) => r.relation)))
  for (const r of mine) if (r.relation !== data.level) plan.remove(r)
  if (!adds) return plan
  plan.require(await pairableOrRefused(ctx, link.subject.id, data.coachId))
  if (data.level === 'primary') {
    // I1: the previous primary becomes a coaching coach in the same write.
    for (const p of primaries) if (p.subject.id !== data.coachId) plan.remove(p).touch(tuple(c, 'coaching', p.subject))
  }
  return rotate(plan.touch(tuple(c, data.level, coach)), guards, id)
}
