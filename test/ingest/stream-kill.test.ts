/**
 * A stream consumer killed with SIGKILL mid-stream, and a second one taking over: every event
 * applied exactly once in effect, none lost.
 *
 * What "exactly once in effect" can mean here, and how it is observed. Each worker runs the
 * embedded engine in memory, so worker A's relationships die with it; what survives the kill is
 * Redis (the stream, the group's pending lists, the idempotency keys) and what A printed before
 * it died. A prints each outcome after `apply` resolved (the write is done) and before XACK.
 *
 * - None lost: after B finishes, the group has nothing pending and no lag, the dead-letter
 *   stream is empty, every event id was reported applied by A or B (or answered duplicate by
 *   B, see below), and every event id has a completed idempotency record in Redis.
 * - Taken over: A died holding delivered, unacknowledged messages (its pending list is not
 *   empty after the kill); B reclaimed every one of them with XAUTOCLAIM.
 * - Never applied twice: no event id is reported applied by both A and B. B answers duplicate
 *   only for messages A held unacknowledged, and of those at most one (the message A was
 *   applying when it died: written, not yet reported) was not reported applied by A.
 * - In effect, once, in B's engine: B's engine holds the effect of exactly the events B
 *   applied, and nothing of the events A applied: for them the duplicate answer wrote nothing.
 *   (A's own effects cannot be read after the kill; its reports are the evidence that its
 *   writes completed, since a report follows a resolved write.)
 */
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { randomBytes } from 'node:crypto'
import { requirePart } from '../helpers/app.js'
import { certificate, deadLetters, groupState, publishMany, redisUrl, testRedis, uniqueEvents, waitFor } from '../fixtures/stream-support.js'
import type { OutcomeReport } from '../../src/ingest/stream-consumer.js'
import type { Config } from '../../src/config.js'

interface Worker {
  proc: ChildProcess
  outcomes: OutcomeReport[]
  address?: string
  exited: Promise<void>
}

function startWorker(t: Test, name: string, events: Config['events'], env: Record<string, string>): Worker {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/stream-worker.ts'], {
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      EVENTS_STREAM: events.stream,
      EVENTS_DEAD_LETTER_STREAM: events.deadLetterStream,
      EVENTS_CONSUMER_GROUP: events.group,
      EVENTS_MAX_DELIVERIES: String(events.maxDeliveries),
      WORKER_CONSUMER: name,
      LOG_LEVEL: 'error',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const w: Worker = { proc, outcomes: [], exited: new Promise((r) => proc.once('exit', () => r())) }
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as { t: string; address?: string } & OutcomeReport
    if (msg.t === 'outcome') w.outcomes.push(msg)
    else if (msg.t === 'ready') w.address = msg.address
  })
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    await w.exited
  })
  return w
}

const ids = (w: Worker, outcome: string) => new Set(w.outcomes.filter((o) => o.outcome === outcome).map((o) => o.eventId!))

t.test('SIGKILL mid-stream, then a second consumer: every event applied once in effect, none lost', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const N = 1500
  const events = uniqueEvents('stream-kill')
  const run = `kill-${randomBytes(3).toString('hex')}`
  const redis = testRedis(t, redisUrl!, [events.stream, events.deadLetterStream])
  const all = Array.from({ length: N }, (_, i) => certificate(run, i))
  await publishMany(redis, events.stream, all)

  // A reads 100 at a time and never reclaims (its claim idle is longer than the test).
  const a = startWorker(t, 'worker-a', events, { WORKER_COUNT: '100', WORKER_CLAIM_IDLE_MS: '600000' })
  // Kill in the middle of A's second batch: the rest of that batch is delivered, unacknowledged.
  await waitFor('worker A to apply 150 events', () => a.outcomes.length >= 150, 90_000)
  a.proc.kill('SIGKILL')
  await a.exited
  t.equal(a.proc.signalCode, 'SIGKILL', 'worker A was killed, not stopped')
  const appliedA = ids(a, 'applied')
  t.ok(appliedA.size < N, `A was killed mid-stream (${appliedA.size} of ${N} applied)`)

  const pendingRows = (await redis.xpending(events.stream, events.group, '-', '+', 10_000, 'worker-a')) as [string, string, number, number][]
  const orphanMessageIds = new Set(pendingRows.map((r) => r[0]))
  t.ok(orphanMessageIds.size > 0, `A died holding ${orphanMessageIds.size} delivered, unacknowledged messages`)

  // A was almost certainly applying an event when it died: its idempotency claim (a 2 s lease
  // that only a living holder renews, so a dead replica frees the event within seconds) is
  // still held. We fast-forward that lease instead of waiting for it: expiring it is exactly
  // what time would do. There can be at most one, since A applies one event at a time.
  const keys = all.map((e) => idempotencyKey(e.id))
  const atKill = await redis.mget(keys)
  const inFlight = keys.filter((_, i) => atKill[i]?.startsWith('pending:'))
  t.ok(inFlight.length <= 1, `at most one claim in flight at the kill (${inFlight.length})`)
  for (const key of inFlight) await redis.pexpire(key, 1)

  const b = startWorker(t, 'worker-b', events, { WORKER_CLAIM_IDLE_MS: '1000', WORKER_CLAIM_INTERVAL_MS: '250' })
  await waitFor(
    'the group to drain',
    async () => {
      const s = await groupState(redis, events.stream, events.group)
      return s.pending === 0 && s.lag === 0 && b.outcomes.length > 0
    },
    90_000,
  )
  await waitFor('worker B to listen', () => b.address, 30_000)

  t.same(await deadLetters(redis, events.deadLetterStream), [], 'nothing was dead-lettered')
  t.same(
    b.outcomes.filter((o) => o.outcome !== 'applied' && o.outcome !== 'duplicate'),
    [],
    'B had no failures or retries',
  )
  const appliedB = ids(b, 'applied')
  const dupB = ids(b, 'duplicate')
  const both = [...appliedA].filter((id) => appliedB.has(id))
  t.same(both, [], 'no event was applied by both workers')
  const lost = all.map((e) => e.id).filter((id) => !appliedA.has(id) && !appliedB.has(id) && !dupB.has(id))
  t.same(lost, [], 'every event was applied by A or B, or found already applied by B')

  const handledByB = new Set(b.outcomes.map((o) => o.messageId))
  t.same(
    [...orphanMessageIds].filter((id) => !handledByB.has(id)),
    [],
    'B took over every message A left pending',
  )
  const dupMessages = b.outcomes.filter((o) => o.outcome === 'duplicate').map((o) => o.messageId)
  t.same(
    dupMessages.filter((m) => !orphanMessageIds.has(m)),
    [],
    'B answered duplicate only for messages A held',
  )
  const unreported = [...dupB].filter((id) => !appliedA.has(id))
  t.ok(unreported.length <= 1, `at most the one event in flight at the kill was applied by A unreported (${unreported.length})`)

  // The idempotency store remembers every event as done, once: one completed record per id.
  const records = await redis.mget(keys)
  t.equal(records.filter((r) => r?.startsWith('done:')).length, N, 'every event id has a completed idempotency record')

  // B's engine: the effect of exactly the events B applied.
  const expected = new Map(all.map((e) => [e.id, appliedB.has(e.id)]))
  const wrong: string[] = []
  for (let i = 0; i < N; i += 500) {
    const slice = all.slice(i, i + 500)
    const res = await fetch(`${b.address}/v1/check/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        items: slice.map((e) => ({ resource: `certificate:${e.data.certificateId}`, permission: 'retrieve', subject: `user:${e.data.learnerId}` })),
      }),
    })
    t.equal(res.status, 200)
    const body = (await res.json()) as { results: { allowed: boolean }[] }
    body.results.forEach((r, j) => {
      if (r.allowed !== expected.get(slice[j]!.id)) wrong.push(slice[j]!.id)
    })
  }
  t.same(wrong, [], "B's engine holds the events B applied and none that A applied")
  t.comment(`A applied ${appliedA.size}, B applied ${appliedB.size}, B found ${dupB.size} already applied; ${orphanMessageIds.size} reclaimed`)
})

/** The Redis idempotency store's key for an event id (src/stores/redis-idempotency.ts); stream events have no API key: scope "anonymous". */
function idempotencyKey(id: string): string {
  return `trellis:event:anonymous:${id}`
}
