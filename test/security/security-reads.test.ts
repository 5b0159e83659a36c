/**
 * Reads that could run long cost bounded work: an unpaged subject lookup (and the access
 * report built on it) stops at LOOKUP_SUBJECTS_MAX with a 422 instead of holding any number of
 * subjects, and a caller that leaves mid-answer ends its engine work (499 GW_CLIENT_CLOSED in
 * the log) instead of having it run on for nobody.
 */
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { captureLog as capture } from '../helpers/log-capture.js'
import { post, seed } from '../helpers/http.js'

const facilitators = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `program:p1#facilitator@user:u${from + i}`)

t.test('lookup/subjects and the access report stop at LOOKUP_SUBJECTS_MAX with a 422 naming it', async (t) => {
  const app = await buildTestApp(t, { overrides: { lookupSubjectsMax: 10 } })
  await seed(app, facilitators(10))
  const ask = () => post(app, '/v1/lookup/subjects', { resource: 'program:p1', permission: 'run', subjectType: 'user' })

  const at = await ask()
  t.equal(at.status, 200, 'ten holders fit')
  t.equal(at.body.subjects.length, 10)
  const reportAt = await app.inject({ method: 'GET', url: '/v1/access-report?resource=program:p1&permission=run' })
  t.equal(reportAt.statusCode, 200, 'the access report of ten holders is served')
  t.equal(reportAt.json().subjects.length, 10)

  await seed(app, facilitators(1, 10))
  const over = await ask()
  t.equal(over.status, 422, 'eleven holders do not fit')
  t.match(over.body, { code: 'GW_RESULT_TOO_LARGE', details: { limit: 10, setting: 'LOOKUP_SUBJECTS_MAX' } })
  t.match(over.body.message, /more than 10 subjects/)
  t.notMatch(over.body.message, /subject type/, 'no advice to narrow by a subject type: every holder is a user, so it narrows nothing')
  t.match(over.body.message, /raise LOOKUP_SUBJECTS_MAX, ask about one subject \(POST \/v1\/check or \/v1\/explain\)/, 'what a caller can do instead')
  t.notOk('subjects' in over.body, 'no cut list passed off as the whole answer')
  for (const format of ['', '&format=csv']) {
    const report = await app.inject({ method: 'GET', url: `/v1/access-report?resource=program:p1&permission=run${format}` })
    t.equal(report.statusCode, 422, `the access report${format} says the same`)
    t.equal(report.json().code, 'GW_RESULT_TOO_LARGE')
  }

  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.notMatch(metrics, /trellis_engine_errors_total\{kind="too_large"\}/, 'a question too big is not counted as an engine failure')
})

t.test('the default bound serves a large organization whole', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, facilitators(300))
  const res = await post(app, '/v1/lookup/subjects', { resource: 'program:p1', permission: 'run', subjectType: 'user' })
  t.equal(res.status, 200)
  t.equal(res.body.subjects.length, 300)
})

/** Sends a JSON POST over a real socket; `leaveAfterMs` destroys the socket that long after sending. */
function send(port: number, path: string, body: unknown, leaveAfterMs?: number): Promise<{ status?: number; ms: number }> {
  const payload = JSON.stringify(body)
  const started = performance.now()
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }))
      },
    )
    req.on('error', () => resolve({ ms: performance.now() - started }))
    req.end(payload)
    if (leaveAfterMs !== undefined) setTimeout(() => req.destroy(), leaveAfterMs)
  })
}

t.test('a caller that leaves mid-answer has its engine work cancelled, logged as 499 GW_CLIENT_CLOSED', async (t) => {
  const { lines, stream } = capture()
  const app = await buildTestApp(t, { logger: { level: 'info', stream }, overrides: { lookupSubjectsMax: 1_000_000 } })
  // Enough holders that one lookup takes a while on either engine: the relationships are
  // written straight to the engine (this test is about the read, not about writes).
  const total = 40_000
  for (let i = 0; i < total; i += 1000) {
    const batch = facilitators(Math.min(1000, total - i), i).map((r) => {
      const [resource, rest] = r.split('#') as [string, string]
      const [relation, subject] = rest.split('@') as [string, string]
      const [rt, rid] = resource.split(':') as [string, string]
      const [st, sid] = subject.split(':') as [string, string]
      return { operation: 'touch' as const, relationship: { resource: { type: rt, id: rid }, relation, subject: { type: st, id: sid } } }
    })
    await app.engine.writeRelationships(batch)
  }
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const question = { resource: 'program:p1', permission: 'run', subjectType: 'user' }

  const whole = await send(port, '/v1/lookup/subjects', question)
  t.equal(whole.status, 200, `the whole answer takes ${whole.ms.toFixed(0)} ms`)

  // Leave at a fifth of the whole answer's time; a faster machine may finish first, so try a few.
  let closed: Record<string, any> | undefined
  for (let attempt = 0; attempt < 5 && !closed; attempt++) {
    const before = lines.length
    const left = await send(port, '/v1/lookup/subjects', question, Math.max(5, whole.ms / 5))
    t.equal(left.status, undefined, 'the caller got no answer: it left')
    const deadline = Date.now() + 10_000
    let line: Record<string, any> | undefined
    while (!line && Date.now() < deadline) {
      line = lines.slice(before).find((l) => l.msg === 'request' && l.url === '/v1/lookup/subjects')
      if (!line) await new Promise((r) => setTimeout(r, 20))
    }
    t.ok(line, 'the request was logged')
    if (line?.status === 499) closed = line
  }
  t.ok(closed, 'a request whose caller left ends as 499')
  t.equal(closed?.code, 'GW_CLIENT_CLOSED')
  t.ok(closed && closed.ms < whole.ms, `it ended (${closed?.ms?.toFixed?.(0)} ms) before the whole answer would have (${whole.ms.toFixed(0)} ms)`)
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.notMatch(metrics, /trellis_engine_errors_total\{kind="cancelled"\}/, 'a caller leaving is not counted as an engine failure')

  const after = await send(port, '/v1/lookup/subjects', question)
  t.equal(after.status, 200, 'the next caller is served')
})
