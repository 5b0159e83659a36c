/**
 * Batches applied concurrently (EVENTS_BATCH_CONCURRENCY > 1) keep the meaning of "in order":
 * a batch interleaving many organizations' feeds ends in exactly the relationships that
 * applying its events one by one gives, and events that depend on an earlier one in the same
 * batch see it. Guards (internal_guard) are left out of the comparison: their versions are
 * hashes of event ids, which differ between the two runs by design.
 */
import t, { type Test } from 'tap'
import { buildTestApp, type TestApp } from '../../helpers/app.js'
import { TYPES, can, ev, post } from '../../helpers/events.js'
import { formatRelationship } from '../../../src/domain/wire/refs.js'

const ORGS = Number(process.env.TRELLIS_BATCH_ORGS ?? 16)
const ROUNDS = Number(process.env.TRELLIS_BATCH_ROUNDS ?? 2)

async function appWith(t: Test, concurrency: string): Promise<TestApp> {
  const before = process.env.EVENTS_BATCH_CONCURRENCY
  process.env.EVENTS_BATCH_CONCURRENCY = concurrency
  try {
    return await buildTestApp(t)
  } finally {
    if (before === undefined) delete process.env.EVENTS_BATCH_CONCURRENCY
    else process.env.EVENTS_BATCH_CONCURRENCY = before
  }
}

async function state(app: TestApp): Promise<string[]> {
  const out: string[] = []
  for (const resourceType of TYPES) {
    let cursor: string | undefined
    do {
      const page = await app.engine.readRelationships({ resourceType }, { limit: 1000, cursor }, { mode: 'fully_consistent' })
      out.push(...page.relationships.map(formatRelationship))
      cursor = page.cursor
    } while (cursor)
  }
  return out.sort()
}

/** One organization's feed: every step depends on some earlier one (creation, roles, primaries). */
function feed(k: number): object[] {
  const o = `org${k}`
  const [owner, a, b, u, p, g, c1, c2] = ['owner', 'a', 'b', 'u', 'p', 'g', 'c1', 'c2'].map((x) => `${o}-${x}`)
  const out = [
    ev('organization.created', { organizationId: o, ownerId: owner }),
    ev('organization.member_added', { organizationId: o, userId: a, role: 'coach' }),
    ev('organization.member_added', { organizationId: o, userId: b, role: 'coach' }),
    // one person coaches in every organization: their guard spans all of them
    ev('organization.member_added', { organizationId: o, userId: 'shared-coach', role: 'coach' }),
    ev('program.created', { programId: p, organizationId: o }),
    ev('group.created', { groupId: g, organizationId: o }),
    ev('client.created', { clientId: c1, organizationId: o, primaryCoachId: a }),
    ev('pairing.set', { clientId: c1, coachId: b, level: 'primary' }),
    ev('pairing.set', { clientId: c1, coachId: 'shared-coach', level: 'coaching' }),
    ev('program.role_assigned', { programId: p, userId: u, role: 'participant' }),
    ev('program.role_assigned', { programId: p, userId: u, role: 'tutor' }),
    ev('group.member_added', { groupId: g, userId: u }),
    ev('group.coach_added', { groupId: g, userId: 'shared-coach' }),
    ev('client.created', { clientId: c2, organizationId: o, primaryCoachId: 'shared-coach' }),
    ev('pairing.set', { clientId: c2, coachId: a, level: 'primary' }),
    // refused if it ran before the primary moved to a; removes the shared coach from this organization only
    ev('user.deactivated', { organizationId: o, userId: 'shared-coach' }),
    ev('user.manager_assigned', { userId: u, managerId: a }),
  ]
  if (k % 3 === 0) out.push(ev('client.deleted', { clientId: c1 }), ev('client.created', { clientId: c1, organizationId: o, primaryCoachId: b }))
  if (k % 4 === 0) out.push(ev('group.deleted', { groupId: g }))
  if (k % 5 === 0) out.push(ev('program.role_revoked', { programId: p, userId: u }))
  out.push(ev('pairing.set', { clientId: c1, coachId: a, level: k % 2 ? 'coaching' : 'none' }))
  return out
}

/** The feeds interleaved at random (seeded), each keeping its own order. */
function interleave(seed: number): object[] {
  let x = seed
  const random = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const feeds = Array.from({ length: ORGS }, (_, k) => feed(k))
  const out: object[] = []
  while (feeds.some((f) => f.length > 0)) {
    const open = feeds.filter((f) => f.length > 0)
    out.push(open[Math.floor(random() * open.length)]!.shift()!)
  }
  return out
}

t.test('a batch interleaving many organizations ends exactly where applying its events one by one does', async (t) => {
  for (let round = 0; round < ROUNDS; round++) {
    const events = interleave(round + 1)
    const strict = await appWith(t, '1')
    for (const [i, e] of events.entries()) {
      const res = await post(strict, e)
      if (res.statusCode !== 200) t.fail(`one by one: event ${i} refused: ${res.body}`)
    }
    const concurrent = await appWith(t, '32')
    for (let i = 0; i < events.length; i += 100) {
      const res = await post(concurrent, { events: events.slice(i, i + 100) })
      t.equal(res.statusCode, 200, `round ${round}: batch at ${i}: ${res.statusCode === 200 ? 'applied' : res.body.slice(0, 500)}`)
    }
    const [one, many] = await Promise.all([state(strict), state(concurrent)])
    t.ok(one.length > ORGS * 10, `round ${round}: ${one.length} relationships`)
    t.same(many, one, `round ${round}: ${events.length} events over ${ORGS} organizations: the same relationships`)
  }
})

t.test('events that depend on an earlier one in the same batch see it, with other organizations in between', async (t) => {
  const app = await appWith(t, '32')
  const noise = (k: number) => [
    ev('organization.created', { organizationId: `n${k}`, ownerId: `n${k}-owner` }),
    ev('organization.member_added', { organizationId: `n${k}`, userId: `n${k}-coach`, role: 'coach' }),
  ]
  const events = [
    ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' }),
    ...noise(1),
    ev('organization.member_added', { organizationId: 'acme', userId: 'rob', role: 'coach' }),
    ev('organization.member_added', { organizationId: 'acme', userId: 'cara', role: 'coach' }),
    ...noise(2),
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob' }),
    ...noise(3),
    ev('program.role_assigned', { programId: 'p1', userId: 'lea', role: 'participant' }),
    ev('pairing.set', { clientId: 'c1', coachId: 'cara', level: 'primary' }),
    ...noise(4),
    ev('program.role_assigned', { programId: 'p1', userId: 'lea', role: 'tutor' }),
    ev('organization.member_role_changed', { organizationId: 'acme', userId: 'rob', role: 'admin' }),
  ]
  const res = await post(app, { events })
  t.equal(res.statusCode, 200, res.body.slice(0, 500))
  t.same(
    res.json().results.map((r: { id: string }) => r.id),
    events.map((e) => e.id),
    'results in the order sent',
  )
  const client = await app.engine.readRelationships({ resourceType: 'client', resourceId: 'c1' }, {}, { mode: 'fully_consistent' })
  const on = (who: string) => client.relationships.filter((r) => r.subject.id === who).map((r) => r.relation)
  t.same(on('cara'), ['primary'], 'the later primary won')
  t.same(on('rob'), [], 'rob, demoted to coaching, then moved out of the coaching pool, lost the pairing (I1, I8)')
  t.ok(await can(app, 'client:c1', 'coach', 'user:cara'))
  const roles = await app.engine.readRelationships(
    { resourceType: 'program', resourceId: 'p1', subject: { type: 'user', id: 'lea' } },
    {},
    { mode: 'fully_consistent' },
  )
  t.same(
    roles.relationships.map((r) => r.relation),
    ['tutor'],
    'the later role replaced the earlier one',
  )
})

t.test('a refusal stops the batch: what depends on it is not applied, what is reported applied is applied', async (t) => {
  const app = await appWith(t, '32')
  const setup = await post(app, {
    events: [0, 1, 2].flatMap((k) => [
      ev('organization.created', { organizationId: `r${k}`, ownerId: `r${k}-owner` }),
      ev('organization.member_added', { organizationId: `r${k}`, userId: `r${k}-coach`, role: 'coach' }),
      ev('client.created', { clientId: `r${k}-c`, organizationId: `r${k}`, primaryCoachId: `r${k}-coach` }),
    ]),
  })
  t.equal(setup.statusCode, 200)
  const events = [
    ev('program.created', { programId: 'r0-p', organizationId: 'r0' }),
    ev('program.created', { programId: 'r1-p', organizationId: 'r1' }),
    // refused: a stranger is not pairable (I5)
    ev('pairing.set', { clientId: 'r0-c', coachId: 'stranger', level: 'coaching' }),
    // same organization as the refusal: waits for it, so never starts
    ev('program.created', { programId: 'r0-q', organizationId: 'r0' }),
    // another organization: may already be under way; if so it is applied and listed
    ev('program.created', { programId: 'r2-p', organizationId: 'r2' }),
  ]
  const res = await post(app, { events })
  t.equal(res.statusCode, 409, res.body.slice(0, 500))
  const body = res.json()
  t.equal(body.details.failedIndex, 2)
  const reported = body.details.results.map((r: { id: string }) => r.id)
  t.same(reported.slice(0, 2), [events[0]!.id, events[1]!.id], 'the events before the refusal, in order')
  t.notOk(reported.includes(events[3]!.id), 'the dependent event is not reported applied')
  t.same([...reported, ...body.details.notApplied].sort(), events.map((e) => e.id).sort(), 'every event is either reported applied or named not applied')
  const exists = async (id: string) =>
    (await app.engine.readRelationships({ resourceType: 'program', resourceId: id, relation: 'organization' }, {}, { mode: 'fully_consistent' })).relationships
      .length > 0
  t.ok(await exists('r0-p'))
  t.ok(await exists('r1-p'))
  t.notOk(await exists('r0-q'), 'the event after the refusal in its organization was not applied')
  t.equal(await exists('r2-p'), reported.includes(events[4]!.id), 'the independent event is applied exactly when reported so')
})

t.test('writes sharing one call (write-group.ts) never hide one event from another: a forbidden relationship created by the other', async (t) => {
  const app = await appWith(t, '32')
  const rounds = Number(process.env.TRELLIS_RACE_ROUNDS ?? 60)
  const setup = await post(app, {
    events: [
      ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' }),
      ev('program.created', { programId: 'p1', organizationId: 'acme' }),
      ev('program.created', { programId: 'p2', organizationId: 'acme' }),
    ],
  })
  t.equal(setup.statusCode, 200, setup.body.slice(0, 300))
  let broken = 0
  let together = 0
  for (let i = 0; i < rounds; i++) {
    // Each plan reads "section s<i> belongs to no program" and pins it (must_not_match); the two
    // events serialize on different objects (program p1, program p2), so only SpiceDB orders them.
    // Writes of unrelated events, spread over the time the two plan, keep a call in flight.
    const noise = Array.from({ length: 12 }, (_, k) =>
      new Promise((resolve) => setTimeout(resolve, k)).then(() => post(app, ev('user.coach_nominated', { learnerId: `l${i}-${k}`, coachId: 'cara' }))),
    )
    const [a, b] = await Promise.all([
      post(app, ev('section.created', { sectionId: `s${i}`, programId: 'p1' })),
      post(app, ev('section.created', { sectionId: `s${i}`, programId: 'p2' })),
      ...noise,
    ])
    if (a!.statusCode === 200 && b!.statusCode === 200) together++
    const owners = await app.engine.readRelationships({ resourceType: 'section', resourceId: `s${i}`, relation: 'program' }, {}, { mode: 'fully_consistent' })
    if (owners.relationships.length !== 1) broken++
  }
  t.equal(together, 0, 'one of the two is refused every time (409: it belongs to the other program)')
  t.equal(broken, 0, `a section ended in two programs in ${broken} of ${rounds} rounds`)
})
