import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { apply, ev, post, seedOrg, snapshot } from '../../helpers/events.js'
import { MemoryIdempotencyStore, applyOnce } from '../../../src/domain/events/apply/idempotency.js'
import { EVENT_TYPES } from '../../../src/domain/events/contract/schemas.js'
import { exampleEvent } from '../../../src/domain/events/contract/examples.js'
import { parseEvent } from '../../../src/domain/events/contract/parse.js'

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
  // a oneOf of named event models with a discriminator (what generators need)
  const variants = (union?.oneOf ?? []).map((r: { $ref: string }) => doc.components.schemas[r.$ref.split('/').pop()!])
  t.equal(variants.length, EVENT_TYPES.length, 'the union lists every type in openapi')
  t.ok(
    variants.every((s: { examples?: unknown[] }) => s?.examples?.length === 1),
    'with an example each',
  )
})

t.test('the same id with another payload is a 409 GW_IDEMPOTENCY_CONFLICT, not a duplicate: ids cannot be used up in advance', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(t, app, ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob' }))
  // An id taken in advance by a harmless event...
  const harmless = ev('pairing.set', { clientId: 'c1', coachId: 'cara', level: 'view_only' })
  await apply(t, app, harmless)
  const before = await snapshot(app)
  // ...does not turn the platform's later event with that id into a silent no-op.
  const later = { id: harmless.id, type: 'user.deactivated', data: { organizationId: 'acme', userId: 'alex' } }
  const res = await post(app, later)
  t.equal(res.statusCode, 409, res.body)
  t.equal(res.json().code, 'GW_IDEMPOTENCY_CONFLICT')
  t.match(res.json().message, harmless.id)
  t.same(await snapshot(app), before, 'nothing written')
  // Same type, other data; other actor: conflicts too.
  t.equal((await post(app, { ...harmless, data: { ...harmless.data, level: 'coaching' } })).json().code, 'GW_IDEMPOTENCY_CONFLICT')
  t.equal((await post(app, { ...harmless, actor: 'user:olivia' })).json().code, 'GW_IDEMPOTENCY_CONFLICT')
  // The same payload, keys in another order and another occurredAt, is the same event: duplicate.
  const same = { occurredAt: '2030-01-01T00:00:00Z', data: { level: 'view_only', coachId: 'cara', clientId: 'c1' }, type: 'pairing.set', id: harmless.id }
  const dup = await post(app, same)
  t.equal(dup.statusCode, 200, dup.body)
  t.equal(dup.json().results[0].status, 'duplicate')
  // In a batch, the conflict stops the batch at that event like any refusal.
  const batch = await post(app, { events: [ev('group.created', { groupId: 'g1', organizationId: 'acme' }), later] })
  t.equal(batch.statusCode, 409)
  t.equal(batch.json().details.failedIndex, 1)
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /trellis_events_total\{source="rest",outcome="refused"\} [1-9]/)
})

t.test('event ids are scoped to the API key that sent them', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  const id = 'evt-shared-id'
  const a = await app.events.apply({ id, type: 'group.created', data: { groupId: 'ga', organizationId: 'acme' } }, { keyName: 'alice' })
  // Another key's event with the same id is its own event: applied, not a conflict or a duplicate.
  const b = await app.events.apply({ id, type: 'group.created', data: { groupId: 'gb', organizationId: 'acme' } }, { keyName: 'bob' })
  t.same([a.status, b.status], ['applied', 'applied'])
  const again = await app.events.apply({ id, type: 'group.created', data: { groupId: 'ga', organizationId: 'acme' } }, { keyName: 'alice' })
  t.same(again, { id, status: 'duplicate', writtenAt: a.writtenAt })
  // No key name (no API_KEYS, or the stream consumer) is its own scope, "anonymous"; names are
  // encoded, so a key name with ':' cannot reach into another scope.
  const anon = await app.events.apply({ id, type: 'group.created', data: { groupId: 'gc', organizationId: 'acme' } })
  t.equal(anon.status, 'applied')
  const tricky = await app.events.apply({ id: `x:${id}`, type: 'group.created', data: { groupId: 'gd', organizationId: 'acme' } }, { keyName: 'alice' })
  t.equal(tricky.status, 'applied')
  const colon = await app.events.apply({ id, type: 'group.created', data: { groupId: 'ge', organizationId: 'acme' } }, { keyName: 'alice:x' })
  t.equal(colon.status, 'applied')
})

t.test('payload fingerprints: canonical over type, actor and data; occurredAt left out', async (t) => {
  const { payloadFingerprint } = await import('../../../src/domain/events/apply/idempotency.js')
  const base = { type: 'pairing.set', data: { clientId: 'c', coachId: 'r', level: 'primary' } }
  t.equal(payloadFingerprint(base), payloadFingerprint({ ...base, data: { level: 'primary', coachId: 'r', clientId: 'c' } }))
  t.equal(payloadFingerprint(base), payloadFingerprint({ ...base, occurredAt: '2025-01-01T00:00:00Z' } as typeof base))
  t.not(payloadFingerprint(base), payloadFingerprint({ ...base, actor: 'user:r' }))
  t.not(payloadFingerprint(base), payloadFingerprint({ ...base, type: 'pairing.other' }))
  t.not(payloadFingerprint({ type: 't', data: { a: ['x', 'y'] } }), payloadFingerprint({ type: 't', data: { a: ['y', 'x'] } }), 'arrays keep their order')
  t.match(payloadFingerprint(base), /^[0-9a-f]{64}$/)
})
