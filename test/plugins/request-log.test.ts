/**
 * One log line per request (plugins/app/request-log.ts): method, url, status, time, request id
 * and key name, with the error code on an error answer; none of Fastify's incoming/completed
 * pair. Read from the app's own logger through a captured stream.
 */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { captureLog as capture } from '../helpers/log-capture.js'

const KEY = 'reader-key-0123456789abcdef'

t.test('each request writes one line, with the key and the error code', async (t) => {
  const { lines, stream } = capture()
  const app = await buildTestApp(t, { logger: { level: 'info', stream }, overrides: { apiKeys: [`reader:${KEY}:check`] } })
  const auth = { authorization: `Bearer ${KEY}` }
  const asked = [
    { method: 'GET' as const, url: '/healthz', status: 200, key: 'anonymous' },
    {
      method: 'POST' as const,
      url: '/v1/check',
      headers: auth,
      payload: { resource: 'client:c1', permission: 'view', subject: 'user:rob' },
      status: 200,
      key: 'reader',
    },
    {
      method: 'POST' as const,
      url: '/v1/check',
      headers: auth,
      payload: { resource: 'client', permission: 'view', subject: 'user:rob' },
      status: 400,
      key: 'reader',
      code: 'GW_VALIDATION',
    },
    {
      method: 'GET' as const,
      url: '/v1/access-report?resource=client:c1&permission=view',
      headers: auth,
      status: 403,
      key: 'reader',
      code: 'GW_MISSING_SCOPE',
    },
    { method: 'POST' as const, url: '/v1/check', payload: {}, status: 401, key: 'anonymous', code: 'GW_UNAUTHORIZED' },
    { method: 'GET' as const, url: '/v1/nowhere', headers: auth, status: 404, key: 'reader', code: 'GW_NOT_FOUND' },
  ]
  for (const a of asked) {
    const { status, key, code, ...req } = a as typeof a & { code?: string }
    const before = lines.length
    const res = await app.inject(req)
    t.equal(res.statusCode, status, `${req.method} ${req.url}`)
    const written = lines.slice(before).filter((l) => l.reqId !== undefined)
    t.equal(written.length, 1, `one line for ${req.method} ${req.url}: ${JSON.stringify(written)}`)
    const line = written[0] ?? {}
    t.match(line, { msg: 'request', method: req.method, url: req.url, status, key, level: 30 })
    t.type(line.ms, 'number')
    t.ok(line.reqId, 'the request id')
    if (code) t.equal(line.code, code, `the error code of ${req.url}`)
    else t.notOk('code' in line, 'no code on a success')
  }
  t.notOk(
    lines.some((l) => l.msg === 'incoming request' || l.msg === 'request completed'),
    'no Fastify request pair',
  )
  t.equal(new Set(lines.filter((l) => l.msg === 'request').map((l) => l.reqId)).size, asked.length, 'one request id per request')
})
