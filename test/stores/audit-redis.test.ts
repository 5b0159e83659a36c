import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { buildTestApp, requirePart, type TestApp } from '../helpers/app.js'
import { ev, seedOrg } from '../helpers/events.js'

const url = process.env.TEST_REDIS_URL

async function trail(app: TestApp) {
  const all: { id: string; source: string; event?: { id: string }; changes: unknown[] }[] = []
  let cursor = ''
  for (let page = 0; page < 100; page++) {
    const body = (await app.inject({ method: 'GET', url: `/v1/audit?limit=1000${cursor}` })).json()
    all.push(...body.records)
    if (!body.cursor) return all
    cursor = `&cursor=${body.cursor}`
  }
  throw new Error('trail did not end')
}

t.test('two gateways over one Redis, one restarted mid-way: every record from both, none lost or doubled', async (t) => {
  if (!requirePart(t, 'redis', Boolean(url))) return
  const stream = `trellis:audit:test:${randomUUID()}`
  const redis = new Redis(url!)
  t.teardown(async () => {
    await redis.del(stream)
    await redis.quit()
  })
  const overrides = { redisUrl: url, audit: { stream, retentionDays: 30 } }
  const a = await buildTestApp(t, { overrides })
  const b = await buildTestApp(t, { overrides })
  t.equal(a.audit.durable, true)
  await Promise.all([seedOrg(t, a, 'north'), seedOrg(t, b, 'south')])

  const fire = (app: TestApp, org: string, from: number, n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        app.inject({
          method: 'POST',
          url: '/v1/events',
          payload: ev('client.created', { clientId: `${org}-${from + i}`, organizationId: org, primaryCoachId: 'rob' }),
        }),
      ),
    )
  const first = await Promise.all([fire(a, 'north', 0, 40), fire(b, 'south', 0, 40)])
  // gateway a shuts down (its engine with it); a new one takes its place on the same Redis
  await a.close()
  const a2 = await buildTestApp(t, { overrides })
  await seedOrg(t, a2, 'north')
  const second = await Promise.all([fire(a2, 'north', 40, 40), fire(b, 'south', 40, 40)])
  const answers = [...first.flat(), ...second.flat()]
  t.ok(
    answers.every((r) => r.statusCode === 200),
    'every event applied',
  )

  const fromA2 = await trail(a2)
  const fromB = await trail(b)
  t.same(
    fromA2.map((r) => r.id),
    fromB.map((r) => r.id),
    'both gateways read the same trail',
  )
  const eventIds = fromB.flatMap((r) => (r.event ? [r.event.id] : []))
  t.equal(fromB.length, 15 + 160, 'fifteen seeding events and 160 clients, one record each')
  t.equal(new Set(eventIds).size, eventIds.length, 'no event recorded twice')
  t.equal(await redis.xlen(stream), 175, 'the stream holds exactly those records')
})

t.test('retention: records older than AUDIT_RETENTION_DAYS are trimmed, the stream is capped', async (t) => {
  if (!requirePart(t, 'redis', Boolean(url))) return
  const stream = `trellis:audit:test:${randomUUID()}`
  const redis = new Redis(url!)
  t.teardown(async () => {
    await redis.del(stream)
    await redis.quit()
  })
  // an old record, as if written 40 days ago
  const old = Date.now() - 40 * 24 * 3600 * 1000
  for (let i = 0; i < 300; i++)
    await redis.xadd(
      stream,
      `${old}-${i}`,
      'r',
      JSON.stringify({ uid: `old${i}`, at: new Date(old).toISOString(), source: 'engine', changes: [], zedToken: 'x' }),
    )
  const app = await buildTestApp(t, { overrides: { redisUrl: url, audit: { stream, retentionDays: 30 } } })
  await seedOrg(t, app)
  const left = await trail(app)
  t.ok(
    left.every((r) => r.source === 'rest'),
    'the 40-day-old records are gone',
  )
  t.equal(left.length, 5, 'five records: the seeding events')
  t.equal(await redis.xlen(stream), 5)
})

t.test('AUDIT_MAX_RECORDS caps the stream', async (t) => {
  if (!requirePart(t, 'redis', Boolean(url))) return
  const stream = `trellis:audit:test:${randomUUID()}`
  const redis = new Redis(url!)
  t.teardown(async () => {
    await redis.del(stream)
    await redis.quit()
  })
  const app = await buildTestApp(t, { overrides: { redisUrl: url, audit: { stream, retentionDays: 30, maxRecords: 100 } } })
  await seedOrg(t, app)
  for (let i = 0; i < 300; i++) {
    await app.inject({ method: 'POST', url: '/v1/relationships', payload: { updates: [{ operation: 'touch', relationship: `user:u${i}#manager@user:m` }] } })
  }
  const n = await redis.xlen(stream)
  t.ok(n >= 100 && n < 300, `about 100 kept (${n}; MAXLEN ~ trims whole nodes)`)
})

t.test('events from the Redis stream consumer are audited once, as the stream door', async (t) => {
  if (!requirePart(t, 'redis', Boolean(url))) return
  const { uniqueEvents, testRedis, publish, waitFor } = await import('../fixtures/stream-support.js')
  const events = uniqueEvents('audit-stream')
  const stream = `trellis:audit:test:${randomUUID()}`
  const redis = testRedis(t, url!, [events.stream, events.deadLetterStream, stream])
  const outcomes: unknown[] = []
  const app = await buildTestApp(t, {
    overrides: { redisUrl: url, events, audit: { stream, retentionDays: 30 } },
    streamConsumer: { blockMs: 100, onOutcome: (r) => outcomes.push(r) },
  })
  const x = randomUUID().slice(0, 6)
  await publish(redis, events.stream, { id: `${x}-1`, type: 'organization.created', data: { organizationId: `o${x}`, ownerId: 'olivia' } })
  await publish(redis, events.stream, { id: `${x}-2`, type: 'certificate.awarded', data: { certificateId: `c${x}`, learnerId: 'lee' } })
  await publish(redis, events.stream, { id: `${x}-2`, type: 'certificate.awarded', data: { certificateId: `c${x}`, learnerId: 'lee' } })
  await waitFor('three outcomes', () => outcomes.length >= 3)
  const records = await trail(app)
  t.same(
    records.map((r) => [r.source, r.event?.id]),
    [
      ['stream', `${x}-1`],
      ['stream', `${x}-2`],
    ],
    'one record per applied event; the duplicate none',
  )
})
