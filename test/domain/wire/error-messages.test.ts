/**
 * Error messages a person can act on: a choice between fixed values says which values it
 * allows, and a refusal names the field at fault (a ZedToken the engine cannot read blames the
 * token, not the resource next to it).
 */
import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { post, seed } from '../../helpers/http.js'

t.test('a bad choice names the allowed values', async (t) => {
  const app = await buildTestApp(t)
  const format = await app.inject({ method: 'GET', url: '/v1/access-report?resource=client:c1&permission=view&format=xml' })
  t.equal(format.statusCode, 400)
  t.match(format.json(), { code: 'GW_VALIDATION', field: 'querystring.format', message: 'querystring.format: must be one of json, csv' })
  const mode = await post(app, '/v1/check', { resource: 'client:c1', permission: 'view', subject: 'user:rob', consistency: { mode: 'eventually' } })
  t.equal(mode.status, 400)
  t.match(mode.body, {
    field: 'body.consistency.mode',
    message: 'body.consistency.mode: must be one of minimize_latency, at_least_as_fresh, fully_consistent',
  })
  const pattern = await post(app, '/v1/check', { resource: 'client', permission: 'view', subject: 'user:rob' })
  t.equal(pattern.status, 400)
  t.notMatch(pattern.body.message, /must be one of/, 'a pattern keeps its own words')
})

t.test('a ZedToken the engine cannot read is blamed on consistency.token', async (t) => {
  const app = await buildTestApp(t)
  const writtenAt = await seed(app, ['program:p1#facilitator@user:fay'])
  const asked = {
    '/v1/check': { resource: 'program:p1', permission: 'run', subject: 'user:fay' },
    '/v1/check/bulk': { items: [{ resource: 'program:p1', permission: 'run', subject: 'user:fay' }] },
    '/v1/explain': { resource: 'program:p1', permission: 'run', subject: 'user:fay' },
    '/v1/expand': { resource: 'program:p1', permission: 'run' },
    '/v1/lookup/resources': { resourceType: 'program', permission: 'run', subject: 'user:fay' },
    '/v1/lookup/subjects': { resource: 'program:p1', permission: 'run', subjectType: 'user' },
  }
  for (const [url, body] of Object.entries(asked)) {
    for (const token of ['zzzz', 'bm9wZQ==', 'not a token!']) {
      const res = await post(app, url, { ...body, consistency: { mode: 'at_least_as_fresh', token } })
      t.equal(res.status, 400, `${url} with token ${token}`)
      t.match(
        res.body,
        { code: 'GW_INVALID_ARGUMENT', field: 'consistency.token', message: /^consistency\.token: is not a ZedToken this engine can read at/ },
        url,
      )
    }
    const good = await post(app, url, { ...body, consistency: { mode: 'at_least_as_fresh', token: writtenAt } })
    t.equal(good.status, 200, `${url} reads at a token the gateway gave`)
  }
})
