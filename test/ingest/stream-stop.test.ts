/**
 * Stopping acknowledges only what was applied: a message whose event cannot be applied before
 * the gateway stops (another delivery holds its idempotency claim, so it waits) is left
 * pending for the next consumer, even on its last allowed delivery. It is neither
 * acknowledged nor dead-lettered, and stopping does not wait for it. Messages read behind it
 * and never started are handed back: their delivery is not counted (rolling restarts alone
 * would otherwise dead-letter them) and another replica can claim them at once.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { buildTestApp, requirePart } from '../helpers/app.js'
import { certificate, deadLetters, groupState, publish, redisUrl, testRedis, uniqueEvents, waitFor } from '../fixtures/stream-support.js'
import type { OutcomeReport } from '../../src/ingest/stream-consumer.js'

t.test('a message waiting on another delivery when the app closes stays pending, not dead-lettered', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const events = uniqueEvents('stream-stop', 1)
  const redis = testRedis(t, redisUrl!, [events.stream, events.deadLetterStream])
  const outcomes: OutcomeReport[] = []
  const app = await buildTestApp(t, {
    overrides: { redisUrl, events },
    streamConsumer: { blockMs: 100, onOutcome: (r) => outcomes.push(r) },
  })
  const x = randomBytes(3).toString('hex')
  await publish(redis, events.stream, certificate(x, 0))
  await waitFor('the first event applied', () => outcomes.length === 1)

  // Another replica is applying event 1 right now: its claim is held (and renewed) elsewhere
  // (stream events are scoped to the key name `anonymous`).
  const held = certificate(x, 1)
  await redis.set(`trellis:event:anonymous:${held.id}`, 'pending:another-replica', 'PX', 60_000)
  // It and three behind it in one read (one MULTI, so the blocked read sees all four): those
  // three are read but never started.
  const m = redis.multi()
  for (const e of [held, certificate(x, 2), certificate(x, 3), certificate(x, 4)]) m.xadd(events.stream, '*', 'event', JSON.stringify(e))
  await m.exec()
  const [id, ...behind] = (await redis.xrange(events.stream, '-', '+')).slice(1).map(([mid]) => mid)
  await waitFor('the messages delivered', async () => (await groupState(redis, events.stream, events.group)).pending === 4)

  // Time the consumer's stop itself (the app's close also waits for the engine to close).
  const consumer = app.eventStream!
  const stop = consumer.stop.bind(consumer)
  let stopMs = -1
  consumer.stop = async () => {
    const started = Date.now()
    await stop()
    stopMs = Date.now() - started
  }
  await app.close()
  t.comment(`the consumer stopped in ${stopMs} ms with the message waiting`)
  t.ok(stopMs >= 0 && stopMs < 2000, 'stopping did not wait for the claim holder nor for its own grace (5 s)')
  t.same(
    outcomes.filter((o) => o.messageId === id && o.outcome !== 'retry'),
    [],
    'neither acknowledged nor dead-lettered',
  )
  t.same(await deadLetters(redis, events.deadLetterStream), [], 'the dead-letter stream is empty')
  const pending = (await redis.xpending(events.stream, events.group, '-', '+', 10)) as [string, string, number, number][]
  t.same(
    pending.map((p) => p[0]),
    [id, ...behind],
    'the messages stay pending for the next consumer',
  )
  t.same(
    pending.map((p) => p[3]),
    [1, 0, 0, 0],
    'the one attempted counts its delivery; those never started do not',
  )
  t.ok(
    pending.slice(1).every((p) => p[2] >= 30_000),
    'those never started are claimable by another replica at once (idle >= claim idle time)',
  )
  await redis.del(`trellis:event:anonymous:${held.id}`)
})
