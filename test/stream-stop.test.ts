/**
 * Stopping acknowledges only what was applied: a message whose event cannot be applied before
 * the gateway stops (another delivery holds its idempotency claim, so it waits) is left
 * pending for the next consumer, even on its last allowed delivery. It is neither
 * acknowledged nor dead-lettered, and stopping does not wait for it.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { buildTestApp, requirePart } from './helpers/app.js'
import { certificate, deadLetters, groupState, publish, redisUrl, testRedis, uniqueEvents, waitFor } from './fixtures/stream-support.js'
import type { OutcomeReport } from '../src/ingest/stream-consumer.js'

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

  // Another replica is applying event 1 right now: its claim is held (and renewed) elsewhere.
  const held = certificate(x, 1)
  await redis.set(`trellis:event:${held.id}`, 'pending:another-replica', 'PX', 60_000)
  const id = await publish(redis, events.stream, held)
  await waitFor('the message delivered', async () => (await groupState(redis, events.stream, events.group)).pending === 1)

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
  t.same(outcomes.filter((o) => o.messageId === id && o.outcome !== 'retry'), [], 'neither acknowledged nor dead-lettered')
  t.same(await deadLetters(redis, events.deadLetterStream), [], 'the dead-letter stream is empty')
  const pending = (await redis.xpending(events.stream, events.group, '-', '+', 10)) as [string, string, number, number][]
  t.same(pending.map((p) => p[0]), [id], 'the message stays pending for the next consumer')
  await redis.del(`trellis:event:${held.id}`)
})
