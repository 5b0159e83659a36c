/**
 * The gateway's own metrics, read from /metrics as Prometheus reads them: engine-call latency
 * by method, engine failures apart from `no_permission` in trellis_checks_total, the open
 * changes feeds, readiness, and the default process metrics under their standard names.
 */
import t from 'tap'
import net from 'node:net'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { post, seed } from '../helpers/http.js'
import { readSse } from '../helpers/sse.js'

async function sample(app: TestApp, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  let total = 0
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3])
  }
  return total
}

const question = { resource: 'program:p1', permission: 'run', subject: 'user:ana' }

t.test('engine calls are timed by method and outcome', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, ['program:p1#facilitator@user:ana'])
  const before = await sample(app, 'trellis_engine_call_duration_seconds_count', { method: 'check', outcome: 'ok' })
  await post(app, '/v1/check', question)
  await post(app, '/v1/lookup/resources', { resourceType: 'program', permission: 'run', subject: 'user:ana' })
  t.ok((await sample(app, 'trellis_engine_call_duration_seconds_count', { method: 'check', outcome: 'ok' })) > before)
  t.ok((await sample(app, 'trellis_engine_call_duration_seconds_count', { method: 'lookupResources', outcome: 'ok' })) >= 1)
  t.ok((await sample(app, 'trellis_engine_call_duration_seconds_count', { method: 'writeRelationships', outcome: 'ok' })) >= 1, 'the seed write')
  t.ok((await sample(app, 'trellis_engine_call_duration_seconds_bucket', { method: 'check', le: '+Inf' })) >= 1)

  await app.engine.close()
  await post(app, '/v1/check', question)
  const all = await sample(app, 'trellis_engine_call_duration_seconds_count', { method: 'check' })
  const ok = await sample(app, 'trellis_engine_call_duration_seconds_count', { method: 'check', outcome: 'ok' })
  t.ok(all - ok >= 1, 'a failed call counts under its error kind, not ok')
})

t.test('a check the engine failed counts as error, not no_permission', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, ['program:p1#facilitator@user:ana'])
  await post(app, '/v1/check', { ...question, subject: 'user:bob' })
  t.equal(await sample(app, 'trellis_checks_total', { permissionship: 'no_permission' }), 1)
  // a bulk item the engine refuses reads no_permission to the caller, error here
  const bulk = await post(app, '/v1/check/bulk', { items: [question, { ...question, permission: 'fly' }] })
  t.equal(bulk.body.results[1].permissionship, 'no_permission')
  t.equal(await sample(app, 'trellis_checks_total', { permissionship: 'has_permission' }), 1)
  t.equal(await sample(app, 'trellis_checks_total', { permissionship: 'no_permission' }), 1)
  t.equal(await sample(app, 'trellis_checks_total', { permissionship: 'error' }), 1)

  await app.engine.close()
  const failed = await post(app, '/v1/check', question)
  t.equal(failed.status, 503)
  t.equal(await sample(app, 'trellis_checks_total', { permissionship: 'error' }), 2)
  t.equal(await sample(app, 'trellis_checks_total', { permissionship: 'no_permission' }), 1)
  t.equal(await sample(app, 'trellis_ready', { check: 'engine' }), 0, 'readiness reads 0 once the engine is gone')
})

t.test('open changes feeds are a gauge', async (t) => {
  const app = await buildTestApp(t)
  t.equal(await sample(app, 'trellis_ready', { check: 'engine' }), 1)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as net.AddressInfo).port
  t.equal(await sample(app, 'trellis_changes_feeds_open'), 0)
  const feeds = [readSse(port, '/v1/changes'), readSse(port, '/v1/changes?types=client')]
  for (const f of feeds) await f.waitFor((e) => e.some((x) => x.event === 'ready'))
  t.equal(await sample(app, 'trellis_changes_feeds_open'), 2)
  feeds[0]!.close()
  await feeds[0]!.ended
  for (let i = 0; i < 50 && (await sample(app, 'trellis_changes_feeds_open')) !== 1; i++) await new Promise((r) => setTimeout(r, 20))
  t.equal(await sample(app, 'trellis_changes_feeds_open'), 1)
  feeds[1]!.close()
  await feeds[1]!.ended
})

t.test('default process metrics carry their standard names', async (t) => {
  const app = await buildTestApp(t)
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(text, /^process_cpu_seconds_total /m)
  t.match(text, /^nodejs_eventloop_lag_p99_seconds /m)
  t.notMatch(text, /trellis_process_|trellis_nodejs_/)
})
