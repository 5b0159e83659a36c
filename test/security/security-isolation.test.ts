/**
 * One caller's bad input hurts no one else, and failures say nothing of the engine's insides:
 * concurrent checks merged into one engine call are answered each on their own merits when
 * the merged call fails; 5xx bodies carry a fixed message and the request id.
 */
import t from 'tap'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildTestApp } from '../helpers/app.js'
import { post, seed } from '../helpers/http.js'

/**
 * The shipped schema plus a caveat with a string parameter, on a gateway whose context limit is
 * above the engine's (4096 bytes): a context the gateway lets through and the engine refuses for
 * the whole merged call. That is the failure the coalescer must keep to its one caller.
 */
function schemaWithMemoCaveat(): string {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-schema-'))
  const file = join(dir, 'schema.zed')
  const base = readFileSync(new URL('../../schema.zed', import.meta.url), 'utf8')
  writeFileSync(file, `${base}\ncaveat memo_given(memo string) {\n  memo != ""\n}\n`)
  return file
}

t.test('one bad check among 400 concurrent good ones fails alone', async (t) => {
  const app = await buildTestApp(t, { overrides: { schemaFile: schemaWithMemoCaveat(), contextMaxBytes: 64 * 1024 } })
  await seed(app, ['program:p1#facilitator@user:ana'])
  const rounds = 3
  let wrong = 0
  for (let round = 0; round < rounds; round++) {
    const good = Array.from({ length: 400 }, (_, i) => {
      const subject = i % 2 === 0 ? 'user:ana' : 'user:bob'
      return post(app, '/v1/check', { resource: 'program:p1', permission: 'run', subject }).then((res) => ({ res, want: i % 2 === 0 }))
    })
    const bad = post(app, '/v1/check', {
      resource: 'program:p1',
      permission: 'run',
      subject: 'user:ana',
      context: { memo: 'x'.repeat(5000) },
    })
    const answers = await Promise.all(good)
    const badAnswer = await bad
    const bads = answers.filter(({ res, want }) => res.status !== 200 || res.body.allowed !== want)
    if (bads[0]) t.comment(JSON.stringify(bads[0].res.body), JSON.stringify(badAnswer.body))
    wrong += bads.length
    t.not(badAnswer.status, 200, `round ${round}: the bad check itself is refused (${badAnswer.status})`)
    t.notOk(badAnswer.body.allowed, 'and never allowed')
  }
  t.equal(wrong, 0, `every one of ${rounds * 400} good checks answered correctly`)
})

t.test('5xx bodies carry a fixed message and the request id, never engine text', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, ['program:p1#facilitator@user:ana'])
  const metric = async () => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
    return [...text.matchAll(/^trellis_engine_errors_total\{kind="(\w+)"\} (\d+)/gm)].reduce((n, m) => n + Number(m[2]), 0)
  }
  const unknown = await post(app, '/v1/check', { resource: 'program:p1', permission: 'fly', subject: 'user:ana' })
  t.equal(unknown.status, 400, 'an unknown permission is the caller fault')
  t.match(unknown.body.message, /fly/, 'and the message says which')
  t.ok((await metric()) >= 1, 'trellis_engine_errors_total counts it')

  // A bulk item the engine fails is answered alone (allowed: false, error) and counted too.
  const beforeBulk = await metric()
  const bulk = await post(app, '/v1/check/bulk', {
    items: [
      { resource: 'program:p1', permission: 'run', subject: 'user:ana' },
      { resource: 'program:p1', permission: 'fly', subject: 'user:ana' },
    ],
  })
  t.equal(bulk.status, 200, 'the bulk call answers')
  t.equal(bulk.body.results[0].allowed, true, 'the good item is answered')
  t.equal(bulk.body.results[1].allowed, false, 'the failed item is not allowed')
  t.ok(bulk.body.results[1].error, 'and says why')
  t.equal((await metric()) - beforeBulk, 1, 'trellis_engine_errors_total counts the failed bulk item')

  await app.engine.close()
  const before = await metric()
  for (const [url, body] of [
    ['/v1/check', { resource: 'program:p1', permission: 'run', subject: 'user:ana' }],
    ['/v1/lookup/resources', { resourceType: 'program', permission: 'run', subject: 'user:ana' }],
    ['/v1/relationships', { updates: [{ operation: 'touch', relationship: 'program:p2#facilitator@user:ana' }] }],
  ] as const) {
    const res = await post(app, url, body)
    t.equal(res.status, 503, `${url}: 503`)
    t.ok(res.body.requestId, `${url}: carries the request id`)
    t.ok(res.body.message.includes(res.body.requestId), `${url}: the message quotes it`)
    t.notMatch(res.body.message, /ECONN|\d+\.\d+\.\d+\.\d+|localhost|rpc error|goroutine|\.go:|closed|spicedb/i, `${url}: no engine text`)
    t.same(Object.keys(res.body).sort(), ['code', 'error', 'message', 'requestId', 'statusCode'], `${url}: nothing else`)
  }
  t.ok((await metric()) > before, 'engine failures are counted by kind')
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.same(ready.json().checks.engine, { ok: false, error: 'unreachable' }, '/readyz says unreachable, not the address')
})
