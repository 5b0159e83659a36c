/**
 * Transient failures: an event that fails for a reason outside itself stays pending, is
 * redelivered (each delivery counted by Redis), and is dead-lettered with its error after
 * `maxDeliveries` deliveries. The failure is real: the gateway's engine has been closed, so
 * apply answers 503. The consumer is told the engine answers (`engineUp`), as it would when the
 * failure is the message's own (a timeout it alone causes); a real outage, where the engine does
 * not answer, counts nothing and dead-letters nothing: test/ingest/stream-outage.test.ts.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { buildTestApp, requirePart } from '../helpers/app.js'
import { createEngine } from '../../src/engine/index.js'
import { loadConfig } from '../../src/config.js'
import { certificate, deadLetters, groupState, publish, redisUrl, testRedis, uniqueEvents, waitFor } from '../fixtures/stream-support.js'
import type { OutcomeReport } from '../../src/ingest/stream-consumer.js'

t.test('a transient failure is retried, then dead-lettered after maxDeliveries with its error', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const events = uniqueEvents('stream-retry', 3)
  const redis = testRedis(t, redisUrl!, [events.stream, events.deadLetterStream])
  // An engine the app does not own, so the test can close it under the running app.
  const engine = await createEngine(loadConfig({ ...process.env, SPICEDB_ENDPOINT: undefined }))
  const outcomes: OutcomeReport[] = []
  const app = await buildTestApp(t, {
    engine,
    overrides: { redisUrl, events },
    streamConsumer: { blockMs: 100, retryDelayMs: 100, engineUp: async () => true, onOutcome: (r) => outcomes.push(r) },
  })
  const x = randomBytes(3).toString('hex')
  await publish(redis, events.stream, certificate(x, 0))
  await waitFor('the first event applied', () => outcomes.length === 1)
  t.equal(outcomes[0]!.outcome, 'applied')

  await engine.close()
  const started = Date.now()
  const failing = await publish(redis, events.stream, certificate(x, 1))
  // Behind the failing one: held back while it is retried, never overtaking it.
  const behind = await publish(redis, events.stream, certificate(x, 2))
  await waitFor('both dead-lettered', async () => (await deadLetters(redis, events.deadLetterStream)).length === 2, 30_000)

  const mine = outcomes.filter((o) => o.messageId === failing)
  t.same(
    mine.map((o) => [o.outcome, o.deliveries]),
    [
      ['retry', 1],
      ['retry', 2],
      ['dead_lettered', 3],
    ],
    'retried on deliveries 1 and 2, dead-lettered on the third',
  )
  t.ok(Date.now() - started >= 100 + 200, 'with backoff between deliveries')
  const firstBehind = outcomes.findIndex((o) => o.messageId === behind)
  t.ok(
    firstBehind > outcomes.findIndex((o) => o.messageId === failing && o.outcome === 'dead_lettered'),
    'the message behind was not attempted before the failing one was settled',
  )

  const [dead] = await deadLetters(redis, events.deadLetterStream)
  t.match(dead!.fields, {
    originalId: failing,
    deliveries: '3',
    code: /^GW_(ENGINE|STORE)_UNAVAILABLE$|^GW_INTERNAL$/,
    event: JSON.stringify(certificate(x, 1)),
  })
  t.ok(dead!.fields.error, `the error is kept: ${dead!.fields.code} ${dead!.fields.error}`)
  t.comment(`dead-lettered with ${dead!.fields.code}: ${dead!.fields.error}`)
  const s = await groupState(redis, events.stream, events.group)
  t.equal(s.pending, 0, 'nothing left pending once dead-lettered')
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /trellis_stream_events_total\{outcome="retry"\} 4/)
  t.match(metrics, /trellis_stream_events_total\{outcome="dead_lettered"\} 2/)
})

t.test('a message whose consumers keep dying is dead-lettered without another attempt', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const events = uniqueEvents('stream-crashloop', 3)
  const redis = testRedis(t, redisUrl!, [events.stream, events.deadLetterStream])
  const x = randomBytes(3).toString('hex')
  await redis.xgroup('CREATE', events.stream, events.group, '0', 'MKSTREAM')
  const id = await publish(redis, events.stream, certificate(x, 0))
  // Three consumers that each received it and died before acknowledging (three deliveries).
  await redis.xreadgroup('GROUP', events.group, 'dead-1', 'COUNT', 1, 'STREAMS', events.stream, '>')
  for (const c of ['dead-2', 'dead-3']) await redis.xclaim(events.stream, events.group, c, 0, id)

  const outcomes: OutcomeReport[] = []
  const app = await buildTestApp(t, {
    overrides: { redisUrl, events },
    streamConsumer: { blockMs: 100, claimIdleMs: 200, claimIntervalMs: 100, onOutcome: (r) => outcomes.push(r) },
  })
  await waitFor('the claim', () => outcomes.length === 1)
  t.match(outcomes[0], { outcome: 'dead_lettered', messageId: id, deliveries: 4, code: 'GW_STREAM_UNACKNOWLEDGED' })
  const res = await app.inject({
    method: 'POST',
    url: '/v1/check',
    payload: { resource: `certificate:${x}-c0`, permission: 'retrieve', subject: `user:${x}-u0` },
  })
  t.equal(res.json().allowed, false, 'it was not applied')
  t.equal((await groupState(redis, events.stream, events.group)).pending, 0)
})
