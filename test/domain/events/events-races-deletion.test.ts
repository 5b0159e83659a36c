/**
 * Deleting an object (I7: every relationship that pointed at it goes, in one write) at the
 * same moment as an event that adds to it, fired ROUNDS times through two replicas over one
 * engine. After both settle nothing may point at the deleted object; while they are in
 * flight, an observer reading the object must never see it without its organization but
 * with relationships left, a state no serial order produces.
 */
import t from 'tap'
import type { TestApp } from '../../helpers/app.js'
import { ev } from '../../helpers/events.js'
import { relationshipsOf, type Universe } from '../../helpers/invariants.js'
import { assertRace, type Ids, type Race } from '../../helpers/races.js'
import { buildReplicas } from '../../helpers/replicas.js'

/**
 * An organization with a client, a program and a group, each already holding someone in the
 * relation the race adds to (a relation seen empty was already pinned empty by deletions).
 */
const organization = (id: Ids): string[] => [
  `organization:${id('A')}#owner@user:${id('oa')}`,
  ...['X', 'P', 'Q'].map((u) => `organization:${id('A')}#coach@user:${id(u)}`),
  `client:${id('c')}#organization@organization:${id('A')}`,
  `client:${id('c')}#primary@user:${id('P')}`,
  `client:${id('c')}#coaching@user:${id('Q')}`,
  `program:${id('p')}#organization@organization:${id('A')}`,
  `organization:${id('A')}#program@program:${id('p')}`,
  `program:${id('p')}#facilitator@user:${id('f0')}`,
  `section:${id('s0')}#program@program:${id('p')}`,
  `section:${id('s0')}#release@program:${id('p')}`,
  `group:${id('g')}#organization@organization:${id('A')}`,
  `group:${id('g')}#coach@user:${id('Q')}`,
]

const universe = (id: Ids): Universe => ({
  organizations: [id('A')],
  clients: [id('c')],
  programs: [id('p')],
  groups: [id('g')],
  sections: [id('s'), id('s0')],
})

/** one read of the object: relationships left although its existence tuple is gone */
const orphans = (type: string, name: string) => async (app: TestApp, id: Ids) => {
  const rels = await relationshipsOf(app, type, id(name))
  return rels.length > 0 && !rels.some((r) => r.relation === 'organization') ? [`I7 ${type}:${id(name)} is deleted but has ${rels.length} relationships`] : []
}

const RACES: Race[] = [
  {
    name: 'program.deleted vs program.role_assigned',
    setup: organization,
    race: (id) => [ev('program.deleted', { programId: id('p') }), ev('program.role_assigned', { programId: id('p'), userId: id('u'), role: 'facilitator' })],
    universe,
    observe: orphans('program', 'p'),
  },
  {
    name: 'program.deleted vs section.created',
    setup: organization,
    race: (id) => [ev('program.deleted', { programId: id('p') }), ev('section.created', { sectionId: id('s'), programId: id('p') })],
    universe,
  },
  {
    name: 'group.deleted vs program.group_assigned',
    setup: organization,
    race: (id) => [ev('group.deleted', { groupId: id('g') }), ev('program.group_assigned', { programId: id('p'), groupId: id('g') })],
    universe,
  },
  {
    name: 'group.deleted vs group.coach_added',
    setup: organization,
    race: (id) => [ev('group.deleted', { groupId: id('g') }), ev('group.coach_added', { groupId: id('g'), userId: id('X') })],
    universe,
    observe: orphans('group', 'g'),
  },
  {
    name: 'client.deleted vs pairing.set coaching',
    setup: organization,
    race: (id) => [ev('client.deleted', { clientId: id('c') }), ev('pairing.set', { clientId: id('c'), coachId: id('X'), level: 'coaching' })],
    universe,
    observe: orphans('client', 'c'),
  },
  {
    name: 'client.deleted vs client.created sent again with the client login',
    setup: organization,
    race: (id) => [
      ev('client.deleted', { clientId: id('c') }),
      ev('client.created', { clientId: id('c'), organizationId: id('A'), primaryCoachId: id('P'), userId: id('login') }),
    ],
    universe,
    observe: orphans('client', 'c'),
  },
]

t.test('deletion races through two replicas over one engine: 0 violations', async (t) => {
  const apps = await buildReplicas(t, 2)
  const only = process.env.TRELLIS_RACE_ONLY
  for (const race of RACES.filter((r) => !only || r.name.includes(only))) await t.test(race.name, async (t) => void (await assertRace(t, apps, race)))
})
