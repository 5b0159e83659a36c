/**
 * Cross-organization races about one person (issue 7, item 1): an event that takes a coach
 * out of an organization (deactivation, removal, a role change out of the coaching pool)
 * sent at the same moment as one that gives them something there (a pairing, a client, a
 * co-authorship, privileges). Each pair is fired ROUNDS times through two replicas over one
 * engine; after both settle, I1-I8 must hold whichever order they landed in.
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import type { TestApp } from './helpers/app.js'
import { ev } from './helpers/events.js'
import { heldAfterRemoval, relationshipsOf, type Universe } from './helpers/invariants.js'
import { assertRace, type Ids, type Race } from './helpers/races.js'
import { buildReplicas } from './helpers/replicas.js'

/**
 * Two organizations. X coaches in both and is already the primary coach of client b1 in B
 * (the case where the old guard was skipped); P is primary of a1 in A.
 */
const twoOrganizations = (id: Ids): string[] => [
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
const withContent = (id: Ids): string[] => [
  ...twoOrganizations(id),
  `organization:${id('A')}#author@user:${id('W')}`,
  `course:${id('k')}#organization@organization:${id('A')}`,
  `course:${id('k')}#owner@user:${id('oa')}`,
  `group:${id('g')}#organization@organization:${id('A')}`,
]

const universe = (id: Ids): Universe => ({
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
const leftA =
  (who: string, which: 0 | 1, allowedAdd?: (id: Ids) => string) =>
  async (app: TestApp, id: Ids, applied: [boolean, boolean]): Promise<string[]> => {
    if (!applied[which]) return []
    const held = await heldAfterRemoval(app, id('A'), id(who), universe(id))
    // An add that needs nothing from the person (a group membership) may land after the removal.
    const left = applied[1 - which] && allowedAdd ? held.filter((h) => !h.endsWith(allowedAdd(id))) : held
    for (const permission of ['view', 'coach', 'notify']) {
      if (await allowed(app, `client:${id('a1')}`, permission, `user:${id(who)}`)) left.push(`I8 user:${id(who)} is still allowed ${permission} on client:${id('a1')}`)
    }
    return left
  }

/** one read of organization A: the person holds privileges or permissions there but no role */
const privilegesWithoutRole = async (app: TestApp, id: Ids) => {
  const mine = (await relationshipsOf(app, 'organization', id('A'))).filter((r) => r.subject.id === id('X'))
  const roles = mine.filter((r) => ['owner', 'admin', 'coach', 'author', 'member'].includes(r.relation))
  return mine.length > 0 && roles.length === 0 ? [`I8 user:${id('X')} holds ${mine.map((r) => r.relation).join(', ')} in organization:${id('A')} without a role`] : []
}

const deactivate = (id: Ids, who = 'X') => ev('user.deactivated', { organizationId: id('A'), userId: id(who) })
const pair = (id: Ids, level: string, client = 'a1') => ev('pairing.set', { clientId: id(client), coachId: id('X'), level })

const RACES: Race[] = [
  {
    name: 'user.deactivated vs pairing.set primary, coach already primary in another organization',
    setup: twoOrganizations,
    race: (id) => [deactivate(id), pair(id, 'primary')],
    universe,
    verify: leftA('X', 0),
  },
  {
    name: 'member_role_changed out of the coaching pool vs pairing.set primary',
    setup: twoOrganizations,
    race: (id) => [ev('organization.member_role_changed', { organizationId: id('A'), userId: id('X'), role: 'admin' }), pair(id, 'primary')],
    universe,
  },
  {
    name: 'member_removed vs pairing.set coaching',
    setup: twoOrganizations,
    race: (id) => [ev('organization.member_removed', { organizationId: id('A'), userId: id('X') }), pair(id, 'coaching')],
    universe,
    verify: leftA('X', 0),
  },
  {
    name: 'user.deactivated vs client.created with the coach as primary',
    setup: twoOrganizations,
    race: (id) => [deactivate(id), ev('client.created', { clientId: id('a2'), organizationId: id('A'), primaryCoachId: id('X') })],
    universe,
    verify: leftA('X', 0),
  },
  {
    name: 'member_role_changed to member vs client.created with the coach as primary',
    setup: twoOrganizations,
    race: (id) => [
      ev('organization.member_role_changed', { organizationId: id('A'), userId: id('X'), role: 'member' }),
      ev('client.created', { clientId: id('a2'), organizationId: id('A'), primaryCoachId: id('X') }),
    ],
    universe,
  },
  {
    name: 'user.deactivated vs course.co_author_added',
    setup: withContent,
    race: (id) => [deactivate(id, 'W'), ev('course.co_author_added', { courseId: id('k'), userId: id('W') })],
    universe,
    coAuthors: true,
    verify: leftA('W', 0),
  },
  {
    name: 'user.deactivated vs privileges_set',
    setup: twoOrganizations,
    race: (id) => [deactivate(id), ev('organization.privileges_set', { organizationId: id('A'), userId: id('X'), privileges: ['view_all_clients'] })],
    universe,
    observe: privilegesWithoutRole,
    verify: leftA('X', 0),
  },
  {
    name: 'client.created sent again vs pairing.set primary on that client',
    setup: twoOrganizations,
    race: (id) => [ev('client.created', { clientId: id('a1'), organizationId: id('A'), primaryCoachId: id('P') }), pair(id, 'primary')],
    universe,
  },
  {
    name: 'organization.ownership_transferred to the coach vs user.deactivated',
    setup: withContent,
    race: (id) => [ev('organization.ownership_transferred', { organizationId: id('A'), newOwnerId: id('W') }), deactivate(id, 'W')],
    universe,
  },
  {
    name: 'user.deactivated vs group.member_added (needs nothing from the person: may land after)',
    setup: withContent,
    race: (id) => [deactivate(id), ev('group.member_added', { groupId: id('g'), userId: id('X') })],
    universe,
    verify: leftA('X', 0, (id) => `group:${id('g')}#member@user:${id('X')}`),
  },
]

t.test('guards are invisible: no permission reads internal_guard and no other relation accepts it', async (t) => {
  const schema = await readFile(new URL('../schema.zed', import.meta.url), 'utf8')
  const definitions = [...schema.matchAll(/definition\s+(\w+)\s*\{([\s\S]*?)\n\}/g)]
  const guard = definitions.find((d) => d[1] === 'internal_guard')
  t.ok(guard, 'schema.zed defines internal_guard')
  t.notMatch(guard![2]!, /permission/, 'internal_guard has no permission')
  for (const d of definitions.filter((d) => d[1] !== 'internal_guard')) t.notMatch(d[2]!, /internal_guard/, `${d[1]} never mentions it`)
})

t.test('one gateway: the same events in one process race just as well (no in-process lock is relied on)', async (t) => {
  const apps = await buildReplicas(t, 1)
  await assertRace(t, apps, RACES[0]!)
})

t.test('cross-organization races through two replicas over one engine: 0 violations', async (t) => {
  const apps = await buildReplicas(t, 2)
  const only = process.env.TRELLIS_RACE_ONLY
  for (const race of RACES.filter((r) => !only || r.name.includes(only))) await t.test(race.name, async (t) => void (await assertRace(t, apps, race)))
})
