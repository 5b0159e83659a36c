/**
 * SIGTERM during a long batch: the gateway process stops the batch at the next event boundary,
 * answers 503 GW_SHUTTING_DOWN with the results of the events it applied and the ids it did
 * not, and exits 0 well within its grace period. The durable state afterwards holds exactly the
 * events reported applied. Before this, the batch ran on past the 10 s grace, the process was
 * killed with exit 1 and the caller saw only a dropped connection.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { requirePart } from '../helpers/app.js'
import { durableEngineEnv, readerApp, relationshipsOf, startGateway } from '../helpers/gateway-process.js'
import { certificate, waitFor } from '../fixtures/stream-support.js'

interface ShutdownBody {
  statusCode: number
  code: string
  message: string
  details: { results: { id: string; status: string }[]; notApplied: string[]; failedIndex: number }
}

t.test('SIGTERM mid-batch: the batch stops at an event boundary and reports, the process exits 0', async (t) => {
  const engine = await durableEngineEnv(t)
  if ('missing' in engine) return void requirePart(t, engine.missing, false)
  t.comment(`engine: ${engine.describe}`)
  const N = 2000
  const env = { ...engine.env, REDIS_URL: '', EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true', MAX_BULK_ITEMS: String(N) }
  const gw = await startGateway(t, env)
  const reader = await readerApp(t, engine.env)
  const tag = `sd-${randomBytes(3).toString('hex')}`
  const batch = Array.from({ length: N }, (_, i) => certificate(tag, i))

  const answer = fetch(`${gw.address}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ events: batch }),
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as ShutdownBody }))
  answer.catch(() => undefined)
  await waitFor('the batch to be under way', async () => (await relationshipsOf(reader, ['certificate'])).length >= 30, 60_000)

  const termAt = Date.now()
  gw.proc.kill('SIGTERM')
  const { status, body } = await answer
  const answeredMs = Date.now() - termAt
  const exit = await gw.exited
  const exitMs = Date.now() - termAt
  t.comment(
    `answered ${answeredMs} ms after SIGTERM, exited after ${exitMs} ms; ${body.details?.results?.length} applied, ${body.details?.notApplied?.length} not`,
  )

  t.equal(status, 503, 'the batch answers instead of being cut')
  t.equal(body.code, 'GW_SHUTTING_DOWN')
  t.same(exit, { code: 0, signal: null }, 'the process exits 0')
  const applied = body.details.results.map((r) => r.id)
  t.ok(applied.length > 0 && body.details.notApplied.length > 0, 'stopped mid-way')
  t.same(
    [...applied, ...body.details.notApplied],
    batch.map((e) => e.id),
    'applied then not applied, in batch order, every id once',
  )
  t.ok(body.details.results.every((r) => r.status === 'applied'))
  t.equal(body.details.failedIndex, applied.length)
  t.ok(answeredMs < 5000, `answered within 5 s of SIGTERM (${answeredMs} ms)`)

  const expected = batch
    .slice(0, applied.length)
    .map((e) => `certificate:${e.data.certificateId}#learner@user:${e.data.learnerId}`)
    .sort()
  t.same(await relationshipsOf(reader, ['certificate']), expected, 'the state holds exactly the events reported applied')
})
