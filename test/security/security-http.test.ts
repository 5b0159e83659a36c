/**
 * The door itself: JSON only, stalled bodies timed out, and every protocol-level failure in
 * the error shape with a stable `code`, over a real socket where the socket is the point.
 */
import t from 'tap'
import { connect } from 'node:net'
import { gzipSync } from 'node:zlib'
import type { AddressInfo } from 'node:net'
import { buildTestApp, type TestApp } from '../helpers/app.js'

const CHECK = JSON.stringify({ resource: 'program:p1', permission: 'run', subject: 'user:ana' })

t.test('bodies that are not plain JSON answer 415 and change nothing', async (t) => {
  const app = await buildTestApp(t)
  const cases: [string, Record<string, string>, string | Buffer][] = [
    ['text/plain', { 'content-type': 'text/plain' }, CHECK],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }, 'resource=program:p1'],
    ['gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync(CHECK)],
    ['deflate', { 'content-type': 'application/json', 'content-encoding': 'deflate' }, CHECK],
  ]
  for (const [what, headers, payload] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/check', headers, payload })
    t.equal(res.statusCode, 415, `${what}: 415`)
    t.equal(res.json().code, 'GW_UNSUPPORTED_MEDIA_TYPE', `${what}: GW_UNSUPPORTED_MEDIA_TYPE`)
  }
  const write = await app.inject({
    method: 'POST',
    url: '/v1/relationships',
    headers: { 'content-type': 'text/plain' },
    payload: JSON.stringify({ updates: [{ operation: 'touch', relationship: 'program:p1#facilitator@user:ana' }] }),
  })
  t.equal(write.statusCode, 415)
  const read = await app.inject({ method: 'GET', url: '/v1/relationships?resource=program:p1' })
  t.same(read.json().relationships, [], 'nothing was written')
})

/** Sends raw bytes to the listening app and collects what comes back until the socket closes. */
function raw(app: TestApp, chunks: string[], gapMs = 0, waitMs = 8000): Promise<{ status: number; body: any; ms: number }> {
  const { port } = app.server.address() as AddressInfo
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no answer in ${waitMs} ms: ${JSON.stringify(data)}`))
    }, waitMs)
    socket.on('data', (d) => (data += d.toString()))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)
      const text = data.slice(data.indexOf('\r\n\r\n') + 4)
      let body: any = text
      try {
        body = JSON.parse(text)
      } catch {
        // not JSON: the raw text is the body
      }
      resolve({ status, body, ms: Date.now() - started })
    })
    socket.on('connect', async () => {
      for (const c of chunks) {
        socket.write(c)
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs))
      }
    })
  })
}

t.test('protocol-level failures answer in the error shape with a code', async (t) => {
  const app = await buildTestApp(t, { overrides: { requestTimeoutMs: 1000 } })
  await app.listen({ port: 0, host: '127.0.0.1' })

  const stalled = await raw(app, [
    `POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${CHECK.length}\r\n\r\n`,
    CHECK.slice(0, 10),
  ])
  t.equal(stalled.status, 408, 'a stalled body is cut off with 408')
  t.equal(stalled.body.code, 'GW_REQUEST_TIMEOUT')
  t.ok(stalled.ms < 5000, `within the request timeout and Node's check interval (${stalled.ms} ms)`)

  const headers = await raw(app, [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`])
  t.equal(headers.status, 431, 'oversized headers: 431')
  t.equal(headers.body.code, 'GW_HEADERS_TOO_LARGE')

  const garbage = await raw(app, ['NOT HTTP AT ALL\r\n\r\n'])
  t.equal(garbage.status, 400, 'a request line that is not HTTP: 400')
  t.equal(garbage.body.code, 'GW_BAD_REQUEST')

  const big = await app.inject({ method: 'POST', url: '/v1/check', payload: { pad: 'x'.repeat(2 * 1024 * 1024) } })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'GW_PAYLOAD_TOO_LARGE')

  const notJson = await app.inject({ method: 'POST', url: '/v1/check', headers: { 'content-type': 'application/json' }, payload: '{"resource":' })
  t.equal(notJson.statusCode, 400, 'a body that does not parse: 400')
  t.match(notJson.json().code, /^GW_/)
})

t.test('wrong methods, undecodable URLs and unknown batch fields are refused in the error shape', async (t) => {
  const app = await buildTestApp(t)
  const trace = await app.inject({ method: 'TRACE', url: '/healthz' })
  t.equal(trace.statusCode, 405, 'another method on a known path: 405')
  t.equal(trace.json().code, 'GW_METHOD_NOT_ALLOWED')
  t.equal(trace.headers.allow, 'GET, HEAD', 'with the methods it has')
  const put = await app.inject({ method: 'PUT', url: '/v1/check', payload: CHECK, headers: { 'content-type': 'application/json' } })
  t.equal(put.statusCode, 405)
  t.equal(put.headers.allow, 'POST')
  const unknown = await app.inject({ method: 'GET', url: '/v1/nothing' })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'GW_NOT_FOUND')
  const badUrl = await app.inject({ method: 'GET', url: '/v1/check%zz' })
  t.equal(badUrl.statusCode, 400, 'a URL that does not decode: 400')
  t.equal(badUrl.json().code, 'GW_BAD_URL')
  const batch = await app.inject({
    method: 'POST',
    url: '/v1/events',
    payload: { events: [{ id: 'e1', type: 'certificate.awarded', data: { certificateId: 'c1', learnerId: 'l1' } }], extra: 1 },
  })
  t.equal(batch.statusCode, 400, 'a batch with an unknown field: 400')
  t.equal(batch.json().field, 'extra')
  const read = await app.inject({ method: 'GET', url: '/v1/relationships?resource=certificate:c1' })
  t.same(read.json().relationships, [], 'and nothing was applied')
})
