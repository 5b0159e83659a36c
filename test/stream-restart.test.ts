/**
 * The consumer survives Redis restarts: on a redis-server of this test's own (restarting the
 * shared one would disturb other suites), first a restart with the append-only file (stream,
 * group and pending lists survive; consumption resumes), then a restart that loses everything
 * (the consumer recreates its group and goes on with what is published next).
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { buildTestApp, requirePart } from './helpers/app.js'
import {
  certificate, deadLetters, freePort, groupState, PrivateRedis, publishMany, redisServerAvailable, testRedis, uniqueEvents, waitFor,
} from './fixtures/stream-support.js'
import type { OutcomeReport } from '../src/ingest/stream-consumer.js'

t.test('the consumer survives a Redis restart, with and without persistence', async (t) => {
  if (!requirePart(t, 'redis-server binary', redisServerAvailable())) return
  const server = new PrivateRedis(await freePort())
  t.teardown(() => server.destroy())
  await server.start({ appendonly: true })

  const events = uniqueEvents('stream-restart')
  const outcomes: OutcomeReport[] = []
  const app = await buildTestApp(t, {
    overrides: { redisUrl: server.url, events },
    streamConsumer: { blockMs: 100, claimIdleMs: 1000, claimIntervalMs: 250, onOutcome: (r) => outcomes.push(r) },
  })
  const redis = testRedis(t, server.url)
  const x = randomBytes(3).toString('hex')
  const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => certificate(x, from + i))
  const applied = () => new Set(outcomes.filter((o) => o.outcome === 'applied' || o.outcome === 'duplicate').map((o) => o.eventId))
  const allowed = async (i: number) =>
    (await app.inject({ method: 'POST', url: '/v1/check', payload: { resource: `certificate:${x}-c${i}`, permission: 'retrieve', subject: `user:${x}-u${i}` } })).json().allowed as boolean

  await publishMany(redis, events.stream, batch(0, 20))
  await waitFor('the first 20 applied', () => applied().size === 20)

  // 1. Restart with the AOF: the stream and the group come back; the consumer reconnects.
  await server.stop()
  await new Promise((r) => setTimeout(r, 500)) // the consumer is now retrying against a closed port
  await server.start({ appendonly: true })
  await waitFor('the test client to reconnect', async () => (await redis.ping().catch(() => '')) === 'PONG')
  t.equal(await redis.xlen(events.stream), 20, 'the stream survived the restart')
  await publishMany(redis, events.stream, batch(20, 20))
  await waitFor('the next 20 applied after the restart', () => applied().size === 40)
  t.ok(await allowed(25), 'an event published after the restart took effect')

  // 2. Restart that loses everything: no stream, no group. The consumer recreates the group.
  await server.wipe()
  await server.start({ appendonly: false })
  await waitFor('the test client to reconnect', async () => (await redis.ping().catch(() => '')) === 'PONG')
  await waitFor('the consumer to recreate its group', async () => {
    const groups = (await redis.call('XINFO', 'GROUPS', events.stream).catch(() => [])) as unknown[]
    return groups.length > 0
  })
  await publishMany(redis, events.stream, batch(40, 20))
  await waitFor('the last 20 applied after the group was recreated', () => applied().size === 60)
  t.ok(await allowed(55), 'an event published after the wipe took effect')

  const s = await groupState(redis, events.stream, events.group)
  t.same([s.pending, s.lag], [0, 0], 'nothing pending, nothing left unread')
  t.same(await deadLetters(redis, events.deadLetterStream), [])
  t.same(outcomes.filter((o) => o.outcome === 'dead_lettered'), [], 'no event was lost to the dead-letter stream')
})
