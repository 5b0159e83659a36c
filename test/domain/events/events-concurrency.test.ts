import t, { type Test } from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { apply, ev, post, seedOrg, snapshot } from '../../helpers/events.js'
import { translateEvent } from '../../../src/domain/events/apply/apply.js'
import { indexSchema } from '../../../src/domain/schema/subject-uses.js'
import { parseEvent } from '../../../src/domain/events/contract/parse.js'
import type { TestApp } from '../../helpers/app.js'

const COACHES = Array.from({ length: 50 }, (_, i) => `coach-${i}`)

async function seedCoaches(t: Test, app: TestApp) {
  await seedOrg(t, app)
  await apply(t, app, ...COACHES.map((c) => ev('organization.member_added', { organizationId: 'acme', userId: c, role: 'coach' })))
  await apply(t, app, ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob' }))
}

async function pairings(app: TestApp) {
  const page = await app.engine.readRelationships({ resourceType: 'client', resourceId: 'c1' }, {}, { mode: 'fully_consistent' })
  const by = (rel: string) => page.relationships.filter((r) => r.relation === rel).map((r) => r.subject.id)
  return { primary: by('primary'), coaching: by('coaching') }
}

t.test('I1 under concurrency: 50 concurrent pairing.set making different coaches primary leave exactly one primary', async (t) => {
  const app = await buildTestApp(t)
  await seedCoaches(t, app)
  const res = await Promise.all(COACHES.map((c) => post(app, ev('pairing.set', { clientId: 'c1', coachId: c, level: 'primary' }))))
  t.same(
    res.map((r) => r.statusCode),
    COACHES.map(() => 200),
  )
  const { primary, coaching } = await pairings(app)
  t.equal(primary.length, 1, 'exactly one primary')
  t.equal(coaching.length, 50, 'every other coach was demoted to coaching, none lost')
})

t.test('two gateways on one engine: preconditions and re-planning serialize the writes', async (t) => {
  const a = await buildTestApp(t)
  const b = await buildTestApp(t, { engine: a.engine })
  await seedCoaches(t, a)
  const res = await Promise.all(COACHES.map((c, i) => post(i % 2 ? a : b, ev('pairing.set', { clientId: 'c1', coachId: c, level: 'primary' }))))
  t.same(
    res.map((r) => r.statusCode),
    COACHES.map(() => 200),
  )
  const { primary, coaching } = await pairings(a)
  t.equal(primary.length, 1)
  t.equal(coaching.length, 50)
})

t.test('translateEvent alone (no in-process serialization): 50 concurrent primaries still leave one', async (t) => {
  const app = await buildTestApp(t)
  await seedCoaches(t, app)
  const deps = { engine: app.engine, schema: indexSchema(app.schemaText), clock: () => new Date() }
  const events = COACHES.map((c) => parseEvent(ev('pairing.set', { clientId: 'c1', coachId: c, level: 'primary' })))
  const settled = await Promise.allSettled(events.map((e) => translateEvent(deps, e)))
  t.same(
    settled.filter((s) => s.status === 'rejected'),
    [],
    'every event landed after re-planning',
  )
  const { primary, coaching } = await pairings(app)
  t.equal(primary.length, 1)
  t.equal(coaching.length, 50)
})

t.test('concurrent demotion and promotion never leave a client without a primary', async (t) => {
  const app = await buildTestApp(t)
  await seedCoaches(t, app)
  const mixed = COACHES.slice(0, 20).flatMap((c) => [
    post(app, ev('pairing.set', { clientId: 'c1', coachId: c, level: 'primary' })),
    post(app, ev('pairing.set', { clientId: 'c1', coachId: c, level: 'none' })),
  ])
  const res = await Promise.all(mixed)
  for (const r of res) t.ok([200, 409].includes(r.statusCode), `200 or 409 (${r.statusCode})`)
  t.equal((await pairings(app)).primary.length, 1)
  t.ok((await snapshot(app)).length > 0)
})
