/**
 * The consumer survives Redis restarts: on a redis-server of this test's own (restarting the
 * shared one would disturb other suites), first a restart with the append-only file in the
 * middle of a stream (stream, group, pending lists and dead-letter stream survive; every event
 * is applied, none lost), then a restart that loses everything: /readyz now fails, saying why,
 * and the consumer recreates its group and goes on with what is published next.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { buildTestApp, requirePart } from '../helpers/app.js'
import {
  certificate,
  deadLetters,
  freePort,
  groupState,
  PrivateRedis,
  publishMany,
  redisServerAvailable,
  testRedis,
  uniqueEvents,
  waitFor,
} from '../fixtures/stream-support.js'
import type { OutcomeReport } from '../../src/ingest/stream-consumer.js'

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
    (
      await app.inject({
        method: 'POST',
        url: '/v1/check',
        payload: { resource: `certificate:${x}-c${i}`, permission: 'retrieve', subject: `user:${x}-u${i}` },
      })
    ).json().allowed as boolean

  // A poison message first, so the dead-letter stream exists before the restart.
  await redis.xadd(events.stream, '*', 'event', '{not json')
  await waitFor('the poison message dead-lettered', async () => (await deadLetters(redis, events.deadLetterStream)).length === 1)
  const MID = 400
  await publishMany(redis, events.stream, batch(0, MID))
  await waitFor('the stream to be under way', () => applied().size >= 20, 60_000)

  // 1. Restart with the AOF in the middle of the stream: the stream, the group, its pending
  // list and the dead letters come back; the consumer reconnects and carries on.
  await server.stop()
  const atRestart = applied().size
  await new Promise((r) => setTimeout(r, 500)) // the consumer is now retrying against a closed port
  await server.start({ appendonly: true })
  await waitFor('the test client to reconnect', async () => (await redis.ping().catch(() => '')) === 'PONG')
  t.equal(await redis.xlen(events.stream), MID + 1, 'the stream survived the restart')
  t.equal((await deadLetters(redis, events.deadLetterStream)).length, 1, 'the dead-letter stream survived the restart')
  await publishMany(redis, events.stream, batch(MID, 20))
  await waitFor('every event applied after the restart', () => applied().size === MID + 20, 120_000)
  t.comment(`restarted Redis after ${atRestart} of ${MID} events; all ${MID + 20} applied, none lost`)
  t.ok(atRestart < MID, 'the restart came in the middle of the stream')
  t.ok(await allowed(MID + 5), 'an event published after the restart took effect')
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'ready: Redis persists')

  // 2. Restart that loses everything: no stream, no group. The consumer recreates the group.
  await server.wipe()
  await server.start({ appendonly: false })
  await waitFor('the test client to reconnect', async () => (await redis.ping().catch(() => '')) === 'PONG')
  const ready = await waitFor('/readyz to notice', async () => {
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    return res.statusCode === 503 ? (res.json() as { checks: { redis: { error: string } } }) : undefined
  })
  t.match(ready.checks.redis.error, /would lose the events stream.*keeps nothing across a restart/, '/readyz says Redis no longer persists')
  await waitFor('the consumer to recreate its group', async () => {
    const groups = (await redis.call('XINFO', 'GROUPS', events.stream).catch(() => [])) as unknown[]
    return groups.length > 0
  })
  await publishMany(redis, events.stream, batch(MID + 20, 20))
  await waitFor('the last 20 applied after the group was recreated', () => applied().size === MID + 40)
  t.ok(await allowed(MID + 35), 'an event published after the wipe took effect')

  const s = await groupState(redis, events.stream, events.group)
  t.same([s.pending, s.lag], [0, 0], 'nothing pending, nothing left unread')
  t.same(await deadLetters(redis, events.deadLetterStream), [], 'the wipe took the dead letters (what the readiness check warns of)')
  t.equal(outcomes.filter((o) => o.outcome === 'dead_lettered').length, 1, 'only the poison message was dead-lettered')
})
