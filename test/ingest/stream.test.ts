/**
 * Redis Streams ingestion against a real redis-server and the real embedded engine: events
 * published with XADD are applied; poison messages go to the dead-letter stream at once and
 * valid ones never do; two gateways share the group and handle each message once.
 */
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { buildTestApp, requirePart, type TestApp } from '../helpers/app.js'
import { certificate, deadLetters, groupState, publish, publishMany, redisUrl, testRedis, uniqueEvents, waitFor } from '../fixtures/stream-support.js'
import type { OutcomeReport } from '../../src/ingest/stream-consumer.js'
import type { Config } from '../../src/config.js'
import { RedisIdempotencyStore } from '../../src/stores/redis-idempotency.js'
import { scopedKey } from '../../src/domain/events/apply/idempotency.js'

const tag = () => randomBytes(3).toString('hex')

async function streamApp(t: Test, events: Config['events'], outcomes: OutcomeReport[] = []): Promise<TestApp> {
  return buildTestApp(t, {
    overrides: { redisUrl, events },
    streamConsumer: { blockMs: 100, onOutcome: (r) => outcomes.push(r) },
  })
}

async function drained(t: Test, events: Config['events'], redis: ReturnType<typeof testRedis>) {
  await waitFor('the group to drain', async () => {
    const s = await groupState(redis, events.stream, events.group)
    return s.pending === 0 && s.lag === 0
  })
}

async function allowed(app: TestApp, resource: string, permission: string, subject: string): Promise<boolean> {
  const res = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource, permission, subject } })
  return (res.json() as { allowed: boolean }).allowed
}

t.test('events published with XADD are applied and checks see them', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const events = uniqueEvents('stream-apply')
  const redis = testRedis(t, redisUrl!, [events.stream, events.deadLetterStream])
  const outcomes: OutcomeReport[] = []
  const app = await streamApp(t, events, outcomes)
  const x = tag()
  // Published after the app started, in dependency order: the program needs its organization.
  await publish(redis, events.stream, { id: `${x}-1`, type: 'organization.created', data: { organizationId: `o${x}`, ownerId: `olivia${x}` } })
  await publish(redis, events.stream, { id: `${x}-2`, type: 'program.created', data: { programId: `p${x}`, organizationId: `o${x}` } })
  await publish(redis, events.stream, { id: `${x}-3`, type: 'program.role_assigned', data: { programId: `p${x}`, userId: `ana${x}`, role: 'facilitator' } })
  // The same event id again (a publisher retrying): a duplicate, acknowledged, not dead-lettered.
  await publish(redis, events.stream, { id: `${x}-3`, type: 'program.role_assigned', data: { programId: `p${x}`, userId: `ana${x}`, role: 'facilitator' } })
  await waitFor('four outcomes', () => outcomes.length >= 4)
  await drained(t, events, redis)

  t.same(
    outcomes.map((o) => o.outcome),
    ['applied', 'applied', 'applied', 'duplicate'],
  )
  t.ok(await allowed(app, `program:p${x}`, 'run', `user:ana${x}`), 'the facilitator runs the program')
  t.ok(await allowed(app, `program:p${x}`, 'edit_content', `user:olivia${x}`), 'the org owner edits its content')
  t.notOk(await allowed(app, `program:p${x}`, 'edit_content', `user:ana${x}`), 'the facilitator does not')
  t.same(await deadLetters(redis, events.deadLetterStream), [])

  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /trellis_stream_events_total\{outcome="applied"\} 3/)
  t.match(metrics, /trellis_stream_events_total\{outcome="duplicate"\} 1/)
  t.match(metrics, /trellis_stream_lag 0/)
  t.match(metrics, /trellis_stream_pending 0/)
})

t.test('poison messages reach the dead-letter stream at once; valid ones never do', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const events = uniqueEvents('stream-poison')
  const redis = testRedis(t, redisUrl!, [events.stream, events.deadLetterStream])
  const outcomes: OutcomeReport[] = []
  const app = await streamApp(t, events, outcomes)
  const x = tag()
  const org = `o${x}`
  const valid = [
    { id: `${x}-v1`, type: 'organization.created', data: { organizationId: org, ownerId: `olivia${x}` } },
    { id: `${x}-v2`, type: 'organization.member_added', data: { organizationId: org, userId: `rob${x}`, role: 'coach' } },
    { id: `${x}-v3`, type: 'client.created', data: { clientId: `c${x}`, organizationId: org, primaryCoachId: `rob${x}` } },
    { id: `${x}-v4`, type: 'certificate.awarded', data: { certificateId: `cert${x}`, learnerId: `mia${x}` } },
  ]
  const poison: { raw: unknown; code: RegExp; why: string }[] = [
    { raw: '{"id": "broken', code: /^GW_STREAM_INVALID_JSON$/, why: 'invalid JSON' },
    { raw: { id: `${x}-p2`, type: 'spaceship.launched', data: {} }, code: /^GW_/, why: 'unknown type' },
    { raw: { id: `${x}-p3`, type: 'program.created', data: { organizationId: org } }, code: /^GW_/, why: 'missing field' },
    // I1: the primary coach cannot be set to none without naming a replacement (409).
    { raw: { id: `${x}-p4`, type: 'pairing.set', data: { clientId: `c${x}`, coachId: `rob${x}`, level: 'none' } }, code: /^GW_/, why: 'invariant I1' },
    // The actor holds no privilege in this organization (403).
    {
      raw: { id: `${x}-p5`, type: 'organization.member_added', actor: `user:mia${x}`, data: { organizationId: org, userId: `eve${x}`, role: 'admin' } },
      code: /^GW_FORBIDDEN$/,
      why: 'actor not allowed',
    },
  ]
  // Interleaved so that a poison message must not hold back or disturb the valid ones.
  const order = [valid[0], valid[1], poison[0], valid[2], poison[1], poison[2], poison[3], valid[3], poison[4]]
  const messageIds: string[] = []
  for (const item of order) messageIds.push(await publish(redis, events.stream, (item as { raw?: unknown }).raw ?? item))
  const noEventField = (await redis.xadd(events.stream, '*', 'payload', JSON.stringify(valid[3])))!

  await waitFor('every message handled', () => outcomes.length >= order.length + 1)
  await drained(t, events, redis)

  const dead = await deadLetters(redis, events.deadLetterStream)
  const poisonIds = [messageIds[2], messageIds[4], messageIds[5], messageIds[6], messageIds[8], noEventField]
  t.same(dead.map((d) => d.fields.originalId).sort(), [...poisonIds].sort(), 'exactly the poison messages are dead-lettered')
  for (const d of dead) {
    t.equal(d.fields.deliveries, '1', `${d.fields.originalId} dead-lettered on its first delivery`)
    t.ok(d.fields.error && d.fields.code, 'with its error and code')
  }
  const byOriginal = new Map(dead.map((d) => [d.fields.originalId, d.fields]))
  poison.forEach((p, i) => {
    const f = byOriginal.get(messageIds[[2, 4, 5, 6, 8][i]!]!)
    t.match(f?.code, p.code, `${p.why}: ${f?.code} ${f?.error}`)
    t.equal(f?.event, typeof p.raw === 'string' ? p.raw : JSON.stringify(p.raw), `${p.why}: the original event is kept`)
  })
  t.equal(byOriginal.get(noEventField)?.code, 'GW_STREAM_NO_EVENT')

  t.same(
    outcomes.filter((o) => o.outcome === 'applied').map((o) => o.eventId),
    valid.map((v) => v.id),
    'every valid event applied, in order',
  )
  t.same(
    outcomes.filter((o) => o.outcome === 'retry'),
    [],
    'permanent failures are never retried',
  )
  t.ok(await allowed(app, `client:c${x}`, 'notify', `user:rob${x}`), 'the refused pairing changed nothing: rob is still primary')
  t.notOk(await allowed(app, `organization:${org}`, 'administer', `user:eve${x}`), 'the refused member_added wrote nothing')
  t.ok(await allowed(app, `certificate:cert${x}`, 'retrieve', `user:mia${x}`))
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /trellis_stream_events_total\{outcome="dead_lettered"\} 6/)
  t.match(metrics, /trellis_stream_dead_lettered_total\{code="GW_FORBIDDEN"\} 1/)
})

t.test('two gateways share the group and each message is handled once', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const N = 400
  const events = uniqueEvents('stream-share')
  const redis = testRedis(t, redisUrl!, [events.stream, events.deadLetterStream])
  const seen: OutcomeReport[][] = [[], []]
  const apps = [await streamApp(t, events, seen[0]), await streamApp(t, events, seen[1])]
  t.not(apps[0]!.eventStream!.name, apps[1]!.eventStream!.name, 'each process reads under its own consumer name')
  const x = tag()
  const all = Array.from({ length: N }, (_, i) => certificate(`share-${x}`, i))
  // In slices, so that both consumers are reading while messages arrive.
  for (let i = 0; i < N; i += 20) await publishMany(redis, events.stream, all.slice(i, i + 20))
  await waitFor('all messages handled', () => seen[0]!.length + seen[1]!.length >= N)
  await drained(t, events, redis)

  const handled = [...seen[0]!, ...seen[1]!]
  t.equal(handled.length, N, 'one outcome per message, no redelivery')
  t.ok(
    handled.every((o) => o.outcome === 'applied'),
    'all applied, no duplicates',
  )
  t.equal(new Set(handled.map((o) => o.eventId)).size, N, 'every event handled exactly once')
  t.ok(seen[0]!.length > 0 && seen[1]!.length > 0, `both consumers worked (${seen[0]!.length} + ${seen[1]!.length})`)
  // Each gateway's engine holds what it applied, and not what the other applied.
  for (const [k, app] of apps.entries()) {
    const mine = seen[k]![0]!
    const other = seen[1 - k]![0]!
    const ev = (id: string) => all.find((e) => e.id === id)!.data
    t.ok(await allowed(app, `certificate:${ev(mine.eventId!).certificateId}`, 'retrieve', `user:${ev(mine.eventId!).learnerId}`))
    t.notOk(await allowed(app, `certificate:${ev(other.eventId!).certificateId}`, 'retrieve', `user:${ev(other.eventId!).learnerId}`))
  }
  t.same(await deadLetters(redis, events.deadLetterStream), [])
})

t.test('one read is applied as a REST batch is: an event held up holds up only the events that share a key with it', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const events = { ...uniqueEvents('stream-order'), batchConcurrency: 8 }
  const redis = testRedis(t, redisUrl!, [events.stream, events.deadLetterStream])
  const x = tag()
  const [orgA, orgB] = [`a${x}`, `b${x}`]
  const held = { id: `held-${x}`, type: 'organization.created', data: { organizationId: orgA, ownerId: `ann${x}` } }
  const sameOrg = { id: `same-${x}`, type: 'organization.member_added', data: { organizationId: orgA, userId: `cal${x}`, role: 'coach' } }
  const other = [
    { id: `other1-${x}`, type: 'organization.created', data: { organizationId: orgB, ownerId: `bob${x}` } },
    { id: `other2-${x}`, type: 'organization.member_added', data: { organizationId: orgB, userId: `dee${x}`, role: 'coach' } },
  ]
  // Another delivery holds the first event's claim (as a replica applying it would): this
  // consumer's apply of it waits for that claim, up to 30 s.
  const claims = new RedisIdempotencyStore(redis, { ttlSeconds: 60 })
  const claim = await claims.claim(scopedKey('anonymous', held.id))
  if (claim.state !== 'claimed') throw new Error('could not take the claim')
  const renew = setInterval(() => void claims.renew(scopedKey('anonymous', held.id), claim.token).catch(() => undefined), 300)
  t.teardown(() => clearInterval(renew))
  // All four in one read (published before the consumer starts; the group reads from the start).
  await publishMany(redis, events.stream, [held, sameOrg, ...other])
  const outcomes: OutcomeReport[] = []
  const app = await streamApp(t, events, outcomes)

  await waitFor("the other organization's events applied while the first is held", () =>
    other.every((e) => outcomes.some((o) => o.eventId === e.id && o.outcome === 'applied')),
  )
  t.same(
    outcomes.filter((o) => o.eventId === held.id || o.eventId === sameOrg.id),
    [],
    'the held event and the one of its organization behind it wait',
  )
  t.ok(await allowed(app, `organization:${orgB}`, 'administer', `user:bob${x}`))

  clearInterval(renew)
  await claims.release(scopedKey('anonymous', held.id), claim.token)
  await waitFor('the held event and the one behind it applied', () => outcomes.length === 4)
  t.same(
    outcomes.slice(2).map((o) => [o.eventId, o.outcome]),
    [
      [held.id, 'applied'],
      [sameOrg.id, 'applied'],
    ],
    'in stream order within the organization',
  )
  t.ok(await allowed(app, `organization:${orgA}`, 'administer', `user:ann${x}`))
  await drained(t, events, redis)
  t.same(await deadLetters(redis, events.deadLetterStream), [])
})
