import t from 'tap'
import { buildTestApp } from './helpers/app.js'
import { apply, ev, post, seedOrg, snapshot } from './helpers/events.js'
import { MemoryIdempotencyStore, applyOnce } from '../src/domain/idempotency.js'
import { EVENT_TYPES } from '../src/domain/events/schemas.js'
import { exampleEvent } from '../src/domain/events/examples.js'
import { parseEvent } from '../src/domain/events/parse.js'

t.test('a second delivery answers duplicate with the original writtenAt and writes nothing', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  const event = ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob' })
  const first = (await apply(t, app, event)).results[0]!
  const before = await snapshot(app)
  const second = (await apply(t, app, event)).results[0]!
  t.same(second, { id: event.id, status: 'duplicate', writtenAt: first.writtenAt })
  t.same(await snapshot(app), before)
})

t.test('concurrent deliveries of one id: one applied, the rest duplicate with the same writtenAt', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  const event = ev('pairing.set', { clientId: 'c1', coachId: 'cara', level: 'coaching' })
  await apply(t, app, ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob' }))
  const answers = await Promise.all(Array.from({ length: 20 }, () => post(app, event)))
  const results = answers.map((a) => a.json().results[0])
  t.equal(results.filter((r) => r.status === 'applied').length, 1)
  t.equal(new Set(results.map((r) => r.writtenAt)).size, 1, 'every answer carries the original writtenAt')
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /trellis_events_total\{source="rest",outcome="duplicate"\} 19/)
})

t.test('a refused event releases its id: once the state allows it, the same id applies', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  const event = ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'adam' })
  t.equal((await post(app, event)).statusCode, 409)
  await apply(t, app, ev('organization.member_role_changed', { organizationId: 'acme', userId: 'adam', role: 'coach' }))
  t.equal((await apply(t, app, event)).results[0]!.status, 'applied')
})

t.test('memory store: claims are atomic, released claims can be retaken, keys expire after the TTL', async (t) => {
  let now = 0
  const store = new MemoryIdempotencyStore(10, () => now)
  const a = await store.claim('k')
  t.equal(a.state, 'claimed')
  t.same(await store.claim('k'), { state: 'pending' })
  if (a.state === 'claimed') await store.release('k', a.token)
  const b = await store.claim('k')
  t.equal(b.state, 'claimed')
  if (b.state === 'claimed') await store.complete('k', b.token, 'tok')
  t.same(await store.claim('k'), { state: 'done', writtenAt: 'tok' })
  now = 11_000
  t.equal((await store.claim('k')).state, 'claimed', 'expired keys can be claimed again')
  let calls = 0
  const slow = () => new Promise<string>((resolve) => setTimeout(() => resolve(`w${++calls}`), 20))
  const both = await Promise.all([applyOnce(store, 'x', slow), applyOnce(store, 'x', slow)])
  t.same(both.map((d) => d.status).sort(), ['applied', 'duplicate'])
  t.equal(calls, 1)
})

t.test('every example of the catalogue is a valid event', async (t) => {
  for (const type of EVENT_TYPES) t.doesNotThrow(() => parseEvent(exampleEvent(type)), type)
  const app = await buildTestApp(t)
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  const union = doc.components?.schemas?.DomainEvent
  t.equal(union?.anyOf?.length, EVENT_TYPES.length, 'the union lists every type in openapi')
  t.ok(union.anyOf.every((s: { examples?: unknown[] }) => s.examples?.length === 1), 'with an example each')
})
