import t from 'tap'
import { Redis } from 'ioredis'
import { buildTestApp, requirePart } from '../helpers/app.js'
import { apply, ev, post, seedOrg, snapshot } from '../helpers/events.js'
import { RedisIdempotencyStore } from '../../src/stores/redis-idempotency.js'

const url = process.env.TEST_REDIS_URL

t.test('redis store: duplicates caught concurrently, across a restart, with the configured retention', async (t) => {
  if (!requirePart(t, 'redis', Boolean(url))) return
  const app = await buildTestApp(t, { overrides: { redisUrl: url, idempotencyTtlSeconds: 3600 } })
  t.equal(app.events.store.description, 'redis')
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).json().checks.redis.ok, true, '/readyz probes redis')
  await seedOrg(t, app)
  await apply(t, app, ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob' }))
  const event = ev('pairing.set', { clientId: 'c1', coachId: 'cara', level: 'primary' })
  const answers = await Promise.all(Array.from({ length: 20 }, () => post(app, event)))
  const results = answers.map((a) => a.json().results[0])
  t.equal(results.filter((r) => r.status === 'applied').length, 1, 'one delivery applied')
  t.equal(new Set(results.map((r) => r.writtenAt)).size, 1, 'all answer the original writtenAt')

  const redis = new Redis(url!)
  t.teardown(() => redis.quit())
  const ttl = await redis.ttl(`trellis:event:anonymous:${event.id}`)
  t.ok(ttl > 3500 && ttl <= 3600, `retention is IDEMPOTENCY_TTL_SECONDS (ttl ${ttl})`)

  // A new gateway on the same engine and the same Redis: the id is still known.
  const restarted = await buildTestApp(t, { engine: app.engine, overrides: { redisUrl: url } })
  const before = await snapshot(restarted)
  const again = await post(restarted, event)
  t.equal(again.statusCode, 200, again.body)
  t.same(again.json().results[0], { id: event.id, status: 'duplicate', writtenAt: results[0].writtenAt })
  t.same(await snapshot(restarted), before, 'nothing written')
})

t.test('redis store: a failed apply releases the claim; another delivery never steals a live claim', async (t) => {
  if (!requirePart(t, 'redis', Boolean(url))) return
  const redis = new Redis(url!)
  t.teardown(() => redis.quit())
  const store = new RedisIdempotencyStore(redis, { ttlSeconds: 60, prefix: `test:${Date.now()}:` })
  const a = await store.claim('k')
  t.equal(a.state, 'claimed')
  t.same(await store.claim('k'), { state: 'pending' })
  if (a.state === 'claimed') {
    await store.release('k', 'someone-else')
    t.same(await store.claim('k'), { state: 'pending' }, 'only the holder releases')
    await store.release('k', a.token)
  }
  const b = await store.claim('k')
  t.equal(b.state, 'claimed')
  if (b.state === 'claimed') await store.complete('k', b.token, 'zed-1')
  t.same(await store.claim('k'), { state: 'done', writtenAt: 'zed-1' })
})

t.test("redis store: a live holder renews its short lease; a dead holder's claim lapses", async (t) => {
  if (!requirePart(t, 'redis', Boolean(url))) return
  const redis = new Redis(url!)
  t.teardown(() => redis.quit())
  const store = new RedisIdempotencyStore(redis, { ttlSeconds: 60, leaseSeconds: 1, prefix: `lease-test:${Date.now()}:` })
  const { applyOnce } = await import('../../src/domain/events/apply/idempotency.js')

  // A slow apply (2.5 s, two and a half leases) keeps its claim: a second delivery waits for
  // it and answers duplicate instead of applying the event a second time.
  let applied = 0
  const slow = applyOnce(store, 'slow', async () => {
    applied++
    await new Promise((r) => setTimeout(r, 2500))
    return 'token-slow'
  })
  await new Promise((r) => setTimeout(r, 1500))
  const second = await applyOnce(store, 'slow', async () => {
    applied++
    return 'token-second'
  })
  t.same(await slow, { status: 'applied', writtenAt: 'token-slow' })
  t.same(second, { status: 'duplicate', writtenAt: 'token-slow' })
  t.equal(applied, 1, 'applied once')

  // A holder that died (claimed, never renewed) frees the event once its lease runs out.
  t.equal((await store.claim('dead')).state, 'claimed')
  t.equal((await store.claim('dead')).state, 'pending')
  await new Promise((r) => setTimeout(r, 1300))
  t.equal((await store.claim('dead')).state, 'claimed', 'the lapsed claim can be taken')
})

t.test('redis store: the payload fingerprint is kept with the id; same id, other payload: 409', async (t) => {
  if (!requirePart(t, 'redis', Boolean(url))) return
  const app = await buildTestApp(t, { overrides: { redisUrl: url } })
  await seedOrg(t, app)
  const event = ev('group.created', { groupId: 'g1', organizationId: 'acme' })
  const first = (await apply(t, app, event)).results[0]!
  const redis = new Redis(url!)
  t.teardown(() => redis.quit())
  t.match(await redis.get(`trellis:event:anonymous:${event.id}`), /^done:[^#]+#[0-9a-f]{64}$/, 'done:<writtenAt>#<sha-256>')
  const other = await post(app, { ...event, data: { groupId: 'g2', organizationId: 'acme' } })
  t.equal(other.statusCode, 409)
  t.equal(other.json().code, 'GW_IDEMPOTENCY_CONFLICT')
  // A replica sharing the Redis sees the same record.
  const replica = await buildTestApp(t, { engine: app.engine, overrides: { redisUrl: url } })
  t.equal((await post(replica, { ...event, data: { groupId: 'g2', organizationId: 'acme' } })).json().code, 'GW_IDEMPOTENCY_CONFLICT')
  t.same((await post(replica, event)).json().results[0], { id: event.id, status: 'duplicate', writtenAt: first.writtenAt })
  // Scoped by key: the same id from another key is another event.
  t.equal((await replica.events.apply({ ...event, data: { groupId: 'g3', organizationId: 'acme' } }, { keyName: 'k2' })).status, 'applied')
  // Records written before fingerprints were kept (done:<writtenAt>) still answer duplicate.
  await redis.set(`trellis:event:anonymous:legacy-${event.id}`, `done:${first.writtenAt}`, 'EX', 60)
  t.same((await post(app, { ...event, id: `legacy-${event.id}` })).json().results[0], {
    id: `legacy-${event.id}`,
    status: 'duplicate',
    writtenAt: first.writtenAt,
  })
})

t.test("redis store: a crashed holder's claim is taken over within about 2 s", async (t) => {
  if (!requirePart(t, 'redis', Boolean(url))) return
  const redis = new Redis(url!)
  t.teardown(() => redis.quit())
  const prefix = `takeover-test:${Date.now()}:`
  const { applyOnce } = await import('../../src/domain/events/apply/idempotency.js')
  const crashed = new RedisIdempotencyStore(redis, { ttlSeconds: 60, prefix })
  const resend = new RedisIdempotencyStore(redis, { ttlSeconds: 60, prefix })
  // The holder claims and dies: no renewal, no completion, no release.
  t.equal((await crashed.claim('e1')).state, 'claimed')
  const started = Date.now()
  const delivery = await applyOnce(resend, 'e1', async () => 'token-resend')
  const tookMs = Date.now() - started
  t.comment(`resend took over the crashed holder's claim after ${tookMs} ms (default lease ${2000} ms)`)
  t.same(delivery, { status: 'applied', writtenAt: 'token-resend' })
  t.ok(tookMs <= 2300, `taken over within the 2 s lease (${tookMs} ms)`)
})

t.test('redis store: a failed "mark done" is retried, not left for the lease to free', async (t) => {
  if (!requirePart(t, 'redis', Boolean(url))) return
  const redis = new Redis(url!)
  t.teardown(() => redis.quit())
  const { applyOnce } = await import('../../src/domain/events/apply/idempotency.js')
  const store = new RedisIdempotencyStore(redis, { ttlSeconds: 60, prefix: `complete-test:${Date.now()}:` })
  let failures = 2
  const complete = store.complete.bind(store)
  store.complete = async (key, token, writtenAt, fingerprint) => {
    if (failures-- > 0) throw new Error('redis blip')
    return complete(key, token, writtenAt, fingerprint)
  }
  let applied = 0
  const delivery = await applyOnce(store, 'e1', async () => (applied++, 'token-1'))
  t.same(delivery, { status: 'applied', writtenAt: 'token-1' }, 'the caller hears applied, not a 503')
  t.same(await store.claim('e1'), { state: 'done', writtenAt: 'token-1' }, 'recorded as done at once')
  t.same(await applyOnce(store, 'e1', async () => (applied++, 'token-2')), { status: 'duplicate', writtenAt: 'token-1' })
  t.equal(applied, 1, 'a resend does not wait for a lease nor apply again')
})
