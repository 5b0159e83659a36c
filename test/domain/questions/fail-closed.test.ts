import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { post, seed } from '../../helpers/http.js'

t.test('when the engine stops answering, checks answer 503 and never allow', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, ['program:p1#facilitator@user:ana'])
  const before = await post(app, '/v1/check', { resource: 'program:p1', permission: 'run', subject: 'user:ana' })
  t.equal(before.body.allowed, true)

  await app.engine.close()

  const single = await post(app, '/v1/check', { resource: 'program:p1', permission: 'run', subject: 'user:ana' })
  t.equal(single.status, 503)
  t.equal(single.body.code, 'GW_ENGINE_UNAVAILABLE')
  t.notOk(single.body.allowed)

  const bulk = await post(app, '/v1/check/bulk', { items: [{ resource: 'program:p1', permission: 'run', subject: 'user:ana' }] })
  t.equal(bulk.status, 503)
  t.notOk(JSON.stringify(bulk.body).includes('"allowed":true'))

  const explain = await post(app, '/v1/explain', { resource: 'program:p1', permission: 'run', subject: 'user:ana' })
  t.equal(explain.status, 503)

  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.json().checks.engine.ok, false)
})

t.test('a bulk item the engine refuses is not allowed, and the others still answer', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, ['program:p1#facilitator@user:ana'])
  const res = await post(app, '/v1/check/bulk', {
    items: [
      { resource: 'program:p1', permission: 'run', subject: 'user:ana' },
      { resource: 'program:p1', permission: 'fly', subject: 'user:ana' },
    ],
  })
  t.equal(res.status, 200)
  t.equal(res.body.results[0].allowed, true)
  t.equal(res.body.results[1].allowed, false)
  t.match(res.body.results[1].error, /fly/)
})

t.test('bounded input: too many bulk items is a 400 naming items', async (t) => {
  const app = await buildTestApp(t, { overrides: { maxBulkItems: 3 } })
  const items = Array.from({ length: 4 }, () => ({ resource: 'program:p1', permission: 'run', subject: 'user:ana' }))
  const res = await post(app, '/v1/check/bulk', { items })
  t.equal(res.status, 400)
  t.equal(res.body.code, 'GW_TOO_MANY_ITEMS')
  t.equal(res.body.field, 'items')
})
