/**
 * Cross-organization races about one coach (issue 7, item 1): an event that takes the coach
 * out of an organization (deactivation, removal, a role change out of the coaching pool)
 * sent at the same moment as one that pairs them with a client there. Each pair is fired
 * ROUNDS times through two replicas over one engine; after both settle, I1-I8 must hold
 * whichever order they landed in. More pairs in events-races-access.test.ts.
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { ev } from '../../helpers/events.js'
import { deactivate, leftA, pair, universe, twoOrganizations } from '../../helpers/race-fixtures.js'
import { assertRace, type Race } from '../../helpers/races.js'
import { buildReplicas } from '../../helpers/replicas.js'

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
]

t.test('guards are invisible: no permission reads internal_guard and no other relation accepts it', async (t) => {
  const schema = await readFile(new URL('../../../schema.zed', import.meta.url), 'utf8')
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
