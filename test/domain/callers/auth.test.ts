import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'

const KEY = 'test-key-0123456789abcdef'
const check = { resource: 'program:p1', permission: 'run', subject: 'user:ana' }

t.test('with API_KEYS set, /v1 needs a known bearer key; probes stay open', async (t) => {
  const app = await buildTestApp(t, { overrides: { apiKeys: [KEY] } })
  const none = await app.inject({ method: 'POST', url: '/v1/check', payload: check })
  t.equal(none.statusCode, 401)
  t.equal(none.json().code, 'GW_UNAUTHORIZED')
  const wrong = await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: { authorization: 'Bearer nope' } })
  t.equal(wrong.statusCode, 401)
  const ok = await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: { authorization: `Bearer ${KEY}` } })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().allowed, false)
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
})

t.test('without API_KEYS the API is open', async (t) => {
  const app = await buildTestApp(t)
  t.equal((await app.inject({ method: 'POST', url: '/v1/check', payload: check })).statusCode, 200)
})
