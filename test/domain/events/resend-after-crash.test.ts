/**
 * A gateway process SIGKILLed in the middle of a batch, and the same batch resent to a new
 * process, on a durable engine (remote leg: `spicedb serve` on Postgres; embedded leg: the
 * embedded engine on Postgres). With Redis the final relationships equal a clean run's, for
 * several kill points. The event in flight at the kill may have been written without being
 * marked done: the resend re-applies it, and every event re-applied over its own result
 * changes nothing (checked event by event in the first test). Without Redis the gateway
 * refuses to start; with the risk accepted by name, the resend does not converge (what the
 * refusal prevents: issue 7 item 4), and the figures are printed.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { buildTestApp, requirePart } from '../../helpers/app.js'
import { snapshot } from '../../helpers/events.js'
import { durableEngineEnv, readerApp, relationshipsOf, startGateway } from '../../helpers/gateway-process.js'
import { crashScenario, difference, normalized, type ScenarioEvent } from '../../fixtures/crash-scenario.js'
import { redisUrl, waitFor } from '../../fixtures/stream-support.js'

const TYPES = ['user', 'organization', 'program', 'section', 'client', 'group', 'course', 'certificate']
const UNITS = 6

t.test('every event re-applied over its own result changes nothing (a resend of the event in flight at a crash)', async (t) => {
  const app = await buildTestApp(t)
  const events = crashScenario('again', 1)
  const changed: string[] = []
  // A transient 503 (a server just started, a loaded machine) is retried, as any caller would.
  const send = async (payload: object) => {
    for (let attempt = 1; ; attempt++) {
      const res = await app.inject({ method: 'POST', url: '/v1/events', payload })
      if (res.statusCode !== 503 || attempt === 5) return res
      await new Promise((r) => setTimeout(r, 200 * attempt))
    }
  }
  for (const e of events) {
    const first = await send(e)
    t.equal(first.statusCode, 200, `${e.type} applies`, { body: first.body })
    const after = await snapshot(app)
    // A new id: the idempotency record is gone, as after a crash between the write and "mark done".
    const again = await send({ ...e, id: `${e.id}-again` })
    if (again.statusCode !== 200 || again.json().results[0].status !== 'applied') changed.push(`${e.type}: ${again.statusCode} ${again.body}`)
    else if (JSON.stringify(await snapshot(app)) !== JSON.stringify(after)) changed.push(`${e.type}: state changed`)
  }
  t.same(changed, [], `all ${events.length} events answer applied and change nothing when re-applied`)
})

async function post(address: string, events: ScenarioEvent[]) {
  const res = await fetch(`${address}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) })
  return { status: res.status, body: (await res.json()) as { results?: { id: string; status: string }[]; code?: string; details?: { results?: unknown[] } } }
}

/** Event ids of this run claimed in Redis (pending or done), whatever the key layout around the id. */
async function claimed(redis: Redis, tag: string): Promise<{ keys: number; pending: number }> {
  let cursor = '0'
  const keys: string[] = []
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `*${tag}-*`, 'COUNT', 1000)
    cursor = next
    keys.push(...found)
  } while (cursor !== '0')
  const values = keys.length ? await redis.mget(keys) : []
  return { keys: keys.length, pending: values.filter((v) => v?.startsWith('pending')).length }
}

t.test('SIGKILL mid-batch, resend to a new process: the same state as a clean run, or a refusal to start', async (t) => {
  const engine = await durableEngineEnv(t)
  if ('missing' in engine) return void requirePart(t, engine.missing, false)
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  t.comment(`engine: ${engine.describe}`)
  // The reader is one more replica: it shares the gateways' Redis, where their write tokens are,
  // so it reads what they acknowledged (without it, it would read only as fresh as its own writes).
  const reader = await readerApp(t, { ...engine.env, REDIS_URL: redisUrl!, EVENTS_STREAM_ENABLED: 'false' })
  const redis = new Redis(redisUrl!)
  t.teardown(() => redis.quit())
  const base = { ...engine.env, EVENTS_STREAM_ENABLED: 'false' }
  const run = randomBytes(3).toString('hex')

  // The clean run: the batch applied once, without a crash.
  const cleanTag = `clean${run}`
  const clean = await reader.inject({ method: 'POST', url: '/v1/events', payload: { events: crashScenario(cleanTag, UNITS) } })
  t.equal(clean.statusCode, 200, 'the clean run applies the whole batch')
  const expected = normalized(await relationshipsOf(reader, TYPES), cleanTag)
  t.ok(expected.length > 50, `the clean run leaves ${expected.length} relationships`)

  const total = crashScenario('x', UNITS).length
  for (const fraction of [0.25, 0.5, 0.75]) {
    const tag = `k${Math.round(fraction * 100)}r${run}`
    const batch = crashScenario(tag, UNITS)
    const env = { ...base, REDIS_URL: redisUrl }
    const first = await startGateway(t, env)
    void post(first.address, batch).catch(() => undefined)
    const killAt = Math.floor(total * fraction)
    await waitFor(`${killAt} events claimed`, async () => (await claimed(redis, tag)).keys >= killAt, 60_000)
    first.proc.kill('SIGKILL')
    await first.exited
    const atKill = await claimed(redis, tag)

    const second = await startGateway(t, env)
    const started = Date.now()
    const resent = await post(second.address, batch)
    const resendMs = Date.now() - started
    second.proc.kill('SIGTERM')
    t.equal(resent.status, 200, `kill at ${atKill.keys}/${total}: the resend is applied`, { body: resent.body })
    const statuses = (resent.body.results ?? []).map((r) => r.status)
    const diff = difference(expected, normalized(await relationshipsOf(reader, TYPES), tag))
    t.comment(
      `kill after ${atKill.keys}/${total} events claimed (${atKill.pending} claim(s) pending at the kill); resend: ` +
        `${statuses.filter((s) => s === 'duplicate').length} duplicate, ${statuses.filter((s) => s === 'applied').length} applied in ${resendMs} ms; ` +
        `${diff.missing.length} missing, ${diff.extra.length} extra`,
    )
    t.same(diff, { missing: [], extra: [] }, `kill at ${atKill.keys}/${total}: final state equals the clean run`)
    await second.exited
  }

  // Without Redis: no start. With the risk accepted: what that risk is.
  await t.rejects(startGateway(t, { ...base, REDIS_URL: '' }), /REDIS_URL: required when the engine is durable.*EVENTS_ALLOW_VOLATILE_IDEMPOTENCY/s)
  const tag = `volatile${run}`
  const batch = crashScenario(tag, UNITS)
  const env = { ...base, REDIS_URL: '', EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true' }
  const first = await startGateway(t, env)
  let settled: unknown
  void post(first.address, batch).then(
    (r) => (settled = r),
    (err: Error) => (settled = err.message),
  )
  await waitFor(
    'half the batch applied',
    async () => {
      if (settled) throw new Error(`the batch ended before the kill: ${JSON.stringify(settled).slice(0, 500)}`)
      // fully consistent: this gateway keeps its write tokens in its process, not in the reader's Redis
      const page = await reader.engine.readRelationships({ resourceType: 'certificate' }, {}, { mode: 'fully_consistent' })
      return page.relationships.filter((r) => r.resource.id.includes(tag)).length >= UNITS / 2
    },
    60_000,
  )
  first.proc.kill('SIGKILL')
  await first.exited
  const second = await startGateway(t, env)
  const resent = await post(second.address, batch)
  second.proc.kill('SIGTERM')
  await second.exited
  const diff = difference(expected, normalized(await relationshipsOf(reader, TYPES), tag))
  t.comment(
    `EVENTS_ALLOW_VOLATILE_IDEMPOTENCY=true: the resend answered ${resent.status} ${resent.body.code ?? ''}; ${diff.missing.length} missing, ${diff.extra.length} extra`,
  )
  t.not(resent.status, 200, 'with event ids in the process only, the resend is refused part-way (the risk the setting accepts)')
})
