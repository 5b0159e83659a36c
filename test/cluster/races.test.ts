/**
 * The races of test/domain/events/events-races.test.ts on the production topology: two events sent at the
 * same moment through the two gateway replicas (real HTTP), over the three-node SpiceDB
 * cluster; after both settle I1-I8 must hold whichever order they landed in.
 */
import t from 'tap'
import { ev } from '../helpers/events.js'
import { deactivate, leftA, pair, universe, twoOrganizations } from '../helpers/race-fixtures.js'
import { assertRace, type Race } from '../helpers/races.js'
import { clusterApps, needCluster, runTag } from '../helpers/cluster.js'

const ROUNDS = Number(process.env.CLUSTER_RACE_ROUNDS ?? 8)
// the cluster keeps its state between runs: each run's objects get their own ids
const run = runTag()

const RACES: Race[] = [
  {
    name: `${run} deactivated vs pairing.set primary`,
    setup: twoOrganizations,
    race: (id) => [deactivate(id), pair(id, 'primary')],
    universe,
    verify: leftA('X', 0),
  },
  {
    name: `${run} member_removed vs pairing.set coaching`,
    setup: twoOrganizations,
    race: (id) => [ev('organization.member_removed', { organizationId: id('A'), userId: id('X') }), pair(id, 'coaching')],
    universe,
    verify: leftA('X', 0),
  },
  {
    name: `${run} role to member vs client.created primary`,
    setup: twoOrganizations,
    race: (id) => [
      ev('organization.member_role_changed', { organizationId: id('A'), userId: id('X'), role: 'member' }),
      ev('client.created', { clientId: id('a2'), organizationId: id('A'), primaryCoachId: id('X') }),
    ],
    universe,
  },
]

for (const race of RACES) {
  t.test(race.name, async (t) => {
    if (!needCluster(t)) return
    await assertRace(t, clusterApps(), race, ROUNDS)
  })
}
