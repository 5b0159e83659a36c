/**
 * Cross-organization races about one person, continued from events-races.test.ts: leaving
 * an organization against a co-authorship, privileges, a group membership or an ownership
 * transfer, and a client created again against a pairing (I1). Each pair is fired ROUNDS
 * times through two replicas over one engine; after both settle, I1-I8 must hold.
 */
import t from 'tap'
import { ev } from '../../helpers/events.js'
import { deactivate, leftA, pair, privilegesWithoutRole, twoOrganizations, universe, withContent } from '../../helpers/race-fixtures.js'
import { assertRace, type Race } from '../../helpers/races.js'
import { buildReplicas } from '../../helpers/replicas.js'

const RACES: Race[] = [
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

t.test('cross-organization races through two replicas over one engine: 0 violations', async (t) => {
  const apps = await buildReplicas(t, 2)
  const only = process.env.TRELLIS_RACE_ONLY
  for (const race of RACES.filter((r) => !only || r.name.includes(only))) await t.test(race.name, async (t) => void (await assertRace(t, apps, race)))
})
