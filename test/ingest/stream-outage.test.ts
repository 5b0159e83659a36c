/**
 * An outage of the engine's datastore is not the messages' fault. Issue 20 saw a Postgres
 * restart under a steady stream lose 8 of 262 events: each failed delivery during the ~7.5 s of
 * 503s counted, and after `maxDeliveries` they went to the dead-letter stream. Here SpiceDB's
 * own Postgres database refuses every connection for 4 s (its open ones cut), far longer than
 * the three deliveries' backoff (0.1 + 0.2 s), while events keep arriving. Every event must be
 * applied, none dead-lettered, none counted past its first delivery, and each must answer its
 * check afterwards. Runs on a real server whenever one can be started, whatever the matrix engine.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { requirePart } from '../helpers/app.js'
import { createDatabase, remoteEnv, remoteParts, startSpiceDb } from '../helpers/engine-remote.js'
import { certificate, deadLetters, groupState, publish, redisUrl, testRedis, uniqueEvents, waitFor } from '../fixtures/stream-support.js'
import type { OutcomeReport } from '../../src/ingest/stream-consumer.js'

const DOWN_MS = 4000
const EVENTS = 30

t.test('a datastore outage longer than maxDeliveries backoff dead-letters nothing', async (t) => {
  const parts = remoteParts()
  if ('missing' in parts) return void requirePart(t, parts.missing, false)
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const db = await createDatabase(parts.bin, parts.postgresUrl)
  const server = await startSpiceDb(parts.bin, db.uri)
  const events = uniqueEvents('stream-outage', 3)
  const redis = testRedis(t, redisUrl!, [events.stream, events.deadLetterStream])
  const outcomes: OutcomeReport[] = []
  const env = remoteEnv([server.endpoint], server.presharedKey, { SPICEDB_TIMEOUT_MS: '1000', EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true' })
  const app = await buildApp({
    logger: false,
    config: { ...loadConfig(env), redisUrl, events },
    streamConsumer: { blockMs: 100, retryDelayMs: 100, onOutcome: (r) => outcomes.push(r) },
  })
  await app.ready()
  t.teardown(async () => {
    await db.restore().catch(() => undefined)
    await app.close()
    await server.stop()
    await db.drop()
  })
  const x = randomBytes(3).toString('hex')
  await publish(redis, events.stream, certificate(x, 0))
  await waitFor('the first event applied', () => outcomes.some((o) => o.outcome === 'applied'))

  await db.cutOff()
  const down = Date.now()
  // events keep arriving through the outage
  for (let i = 1; i < EVENTS; i++) {
    await publish(redis, events.stream, certificate(x, i))
    await new Promise((r) => setTimeout(r, DOWN_MS / EVENTS))
  }
  while (Date.now() - down < DOWN_MS) await new Promise((r) => setTimeout(r, 50))
  const retriesWhileDown = outcomes.filter((o) => o.outcome === 'retry').length
  await db.restore()
  await waitFor('every event applied', () => new Set(outcomes.filter((o) => o.outcome === 'applied').map((o) => o.eventId)).size === EVENTS, 30_000)

  t.ok(retriesWhileDown > 0, `the outage was real: ${retriesWhileDown} attempts failed while the database was cut off`)
  t.same(await deadLetters(redis, events.deadLetterStream), [], 'nothing dead-lettered')
  t.same(
    outcomes.filter((o) => o.outcome === 'dead_lettered'),
    [],
    'no dead-letter outcome',
  )
  t.same([...new Set(outcomes.map((o) => o.deliveries))], [1], 'no attempt during the outage counted a delivery')
  const s = await groupState(redis, events.stream, events.group)
  t.equal(s.pending, 0, 'nothing left pending')
  // events in, checks out: each learner retrieves their own certificate
  const checks = await app.inject({
    method: 'POST',
    url: '/v1/check/bulk',
    payload: { items: Array.from({ length: EVENTS }, (_, i) => ({ resource: `certificate:${x}-c${i}`, permission: 'retrieve', subject: `user:${x}-u${i}` })) },
  })
  t.equal(checks.statusCode, 200)
  t.same(
    checks.json().results.map((r: { allowed: boolean }) => r.allowed),
    Array(EVENTS).fill(true),
    'every event answers its check',
  )
})
