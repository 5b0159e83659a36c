/**
 * Starting states and checks shared by the cross-organization race suites
 * (events-races*.test.ts): two organizations that share a coach, and what "left the
 * organization" means after a deactivation or removal (I8).
 */
import type { TestApp } from './app.js'
import { ev } from './events.js'
import { heldAfterRemoval, relationshipsOf, type Universe } from './invariants.js'
import type { Ids } from './races.js'

/**
 * Two organizations. X coaches in both and is already the primary coach of client b1 in B
 * (the case where the old guard was skipped); P is primary of a1 in A.
 */
export const twoOrganizations = (id: Ids): string[] => [
  `organization:${id('A')}#owner@user:${id('oa')}`,
  `organization:${id('B')}#owner@user:${id('ob')}`,
  `organization:${id('A')}#coach@user:${id('X')}`,
  `organization:${id('A')}#coach@user:${id('P')}`,
  `organization:${id('B')}#coach@user:${id('X')}`,
  `client:${id('b1')}#organization@organization:${id('B')}`,
  `client:${id('b1')}#primary@user:${id('X')}`,
  `client:${id('a1')}#organization@organization:${id('A')}`,
  `client:${id('a1')}#primary@user:${id('P')}`,
]

/** the same, with an author W, a course owned by the owner and a group in A */
export const withContent = (id: Ids): string[] => [
  ...twoOrganizations(id),
  `organization:${id('A')}#author@user:${id('W')}`,
  `course:${id('k')}#organization@organization:${id('A')}`,
  `course:${id('k')}#owner@user:${id('oa')}`,
  `group:${id('g')}#organization@organization:${id('A')}`,
]

export const universe = (id: Ids): Universe => ({
  organizations: [id('A'), id('B')],
  clients: [id('a1'), id('a2'), id('b1')],
  groups: [id('g')],
  courses: [id('k')],
})

async function allowed(app: TestApp, resource: string, permission: string, subject: string) {
  const res = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource, permission, subject, consistency: { mode: 'fully_consistent' } } })
  return res.json().allowed as boolean
}

/** After the person left organization A (event `which` applied): nothing of A is left to them. */
export const leftA =
  (who: string, which: 0 | 1, allowedAdd?: (id: Ids) => string) =>
  async (app: TestApp, id: Ids, applied: [boolean, boolean]): Promise<string[]> => {
    if (!applied[which]) return []
    const held = await heldAfterRemoval(app, id('A'), id(who), universe(id))
    // An add that needs nothing from the person (a group membership) may land after the removal.
    const left = applied[1 - which] && allowedAdd ? held.filter((h) => !h.endsWith(allowedAdd(id))) : held
    for (const permission of ['view', 'coach', 'notify']) {
      if (await allowed(app, `client:${id('a1')}`, permission, `user:${id(who)}`))
        left.push(`I8 user:${id(who)} is still allowed ${permission} on client:${id('a1')}`)
    }
    return left
  }

/** one read of organization A: the person holds privileges or permissions there but no role */
export const privilegesWithoutRole = async (app: TestApp, id: Ids) => {
  const mine = (await relationshipsOf(app, 'organization', id('A'))).filter((r) => r.subject.id === id('X'))
  const roles = mine.filter((r) => ['owner', 'admin', 'coach', 'author', 'member'].includes(r.relation))
  return mine.length > 0 && roles.length === 0
    ? [`I8 user:${id('X')} holds ${mine.map((r) => r.relation).join(', ')} in organization:${id('A')} without a role`]
    : []
}

export const deactivate = (id: Ids, who = 'X') => ev('user.deactivated', { organizationId: id('A'), userId: id(who) })
export const pair = (id: Ids, level: string, client = 'a1') => ev('pairing.set', { clientId: id(client), coachId: id('X'), level })
