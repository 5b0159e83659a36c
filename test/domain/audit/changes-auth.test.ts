/**
 * An open changes feed is authorized for as long as it lasts, not only when it opens (issue 18
 * item 1): a key removed from API_KEYS_FILE, or one that loses `audit`, ends its feeds with a
 * final `error` event, through the real file reload. And a resume token the gateway cannot read
 * is a 400 naming it, never echoed back as the feed's start (a browser would resend it forever).
 */
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import net from 'node:net'
import { buildTestApp, type TestApp } from '../../helpers/app.js'
import { readSse } from '../../helpers/sse.js'

const sha = (s: string) => createHash('sha256').update(s).digest('hex')
const [cacheKey, otherKey] = ['cache-secret-0123456789abcdef', 'other-secret-0123456789abcdef']
// a v1 ZedToken as SpiceDB encodes it (test/engine/zedtokens.test.ts): field 3 {1: revision, 2: datastore id}
const field = (n: number, b: number[]) => [(n << 3) | 2, b.length, ...b]
const zedToken = (revision: string, datastoreId: string) =>
  Buffer.from(field(3, [...field(1, [...Buffer.from(revision)]), ...field(2, [...Buffer.from(datastoreId)])])).toString('base64')
const bearer = (k: string) => ({ authorization: `Bearer ${k}` })

function keyFile() {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'trellis-feed-keys-')), 'keys')
  // replaced the way operators and Kubernetes do: a new file renamed over the old
  const write = (text: string) => {
    writeFileSync(`${file}.new`, text)
    renameSync(`${file}.new`, file)
  }
  return { file, write }
}

async function listen(app: TestApp): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as net.AddressInfo).port
}

const touch = (app: TestApp, id: string) =>
  app.engine.writeRelationships([
    { operation: 'touch', relationship: { resource: { type: 'user', id }, relation: 'manager', subject: { type: 'user', id: 'm' } } },
  ])

// reauthSeconds is far away: only the key ring's change notification can end the feed in time
const build = (t: Test, file: string) =>
  buildTestApp(t, { overrides: { apiKeys: [], apiKeysFile: file, feeds: { maxPerKey: 16, maxTotal: 256, reauthSeconds: 3600 } }, apiKeysPollMs: 200 })

t.test('a key removed from API_KEYS_FILE ends its open feed with an error event within 5 s; other feeds go on', async (t) => {
  const { file, write } = keyFile()
  write(`cache audit ${sha(cacheKey)}\nother audit ${sha(otherKey)}\n`)
  const app = await build(t, file)
  const port = await listen(app)
  const revoked = readSse(port, '/v1/changes', bearer(cacheKey))
  const kept = readSse(port, '/v1/changes', bearer(otherKey))
  t.same([await revoked.status, await kept.status], [200, 200])
  await revoked.waitFor((e) => e.some((x) => x.event === 'ready'))
  await touch(app, 'before')
  await revoked.waitFor((e) => e.some((x) => x.event === 'change'))

  const removedAt = Date.now()
  write(`other audit ${sha(otherKey)}\n`)
  await revoked.waitFor((e) => e.some((x) => x.event === 'error'), 5000)
  const took = Date.now() - removedAt
  await revoked.ended
  t.ok(took < 5000, `the feed ended ${took} ms after the key's line was removed`)
  const last = revoked.events.at(-1)!
  t.equal(last.event, 'error', 'the last event is the error')
  t.match(JSON.parse(last.data), { code: 'GW_UNAUTHORIZED', message: /no longer valid/, resumeFrom: /.+/ })

  await touch(app, 'after')
  await kept.waitFor((e) => e.some((x) => x.event === 'change' && x.data.includes('user:after')))
  t.notOk(
    revoked.events.some((x) => x.data.includes('user:after')),
    'nothing after the removal reached the revoked feed',
  )
  const again = await app.inject({ method: 'GET', url: '/v1/changes', headers: { ...bearer(cacheKey), accept: 'text/event-stream' } })
  t.equal(again.statusCode, 401, 'and it cannot open another')
  kept.close()
})

t.test('a key that loses audit ends its feed with GW_MISSING_SCOPE (SIGHUP reload)', async (t) => {
  const { file, write } = keyFile()
  write(`cache audit+check ${sha(cacheKey)}\n`)
  const app = await build(t, file)
  const port = await listen(app)
  const feed = readSse(port, '/v1/changes', bearer(cacheKey))
  t.equal(await feed.status, 200)
  await feed.waitFor((e) => e.some((x) => x.event === 'ready'))
  write(`cache check ${sha(cacheKey)}\n`)
  const at = Date.now()
  process.kill(process.pid, 'SIGHUP')
  await feed.waitFor((e) => e.some((x) => x.event === 'error'), 5000)
  await feed.ended
  t.ok(Date.now() - at < 5000, `ended ${Date.now() - at} ms after the reload`)
  t.match(JSON.parse(feed.events.at(-1)!.data), { code: 'GW_MISSING_SCOPE', message: /lacks the scope audit/ })
})

t.test('without a reload notification, the periodic re-check (FEEDS_REAUTH_SECONDS) ends the feed', async (t) => {
  const { file, write } = keyFile()
  write(`cache audit ${sha(cacheKey)}\n`)
  // the file is not polled within the test, and the ring's change notification is lost: only
  // the periodic re-check is left to notice that the key ring changed
  const app = await buildTestApp(t, {
    overrides: { apiKeys: [], apiKeysFile: file, feeds: { maxPerKey: 16, maxTotal: 256, reauthSeconds: 1 } },
    apiKeysPollMs: 3_600_000,
  })
  Object.assign(app.apiKeys, { onChange: () => () => undefined })
  const port = await listen(app)
  const feed = readSse(port, '/v1/changes', bearer(cacheKey))
  t.equal(await feed.status, 200)
  await feed.waitFor((e) => e.some((x) => x.event === 'ready'))
  await new Promise((r) => setTimeout(r, 1500))
  t.notOk(
    feed.events.some((x) => x.event === 'error'),
    'a key still valid keeps its feed across re-checks',
  )
  write('')
  t.ok(app.apiKeys.reload(), 'the key ring no longer holds the key')
  const at = Date.now()
  await feed.waitFor((e) => e.some((x) => x.event === 'error'), 5000)
  await feed.ended
  t.ok(Date.now() - at < 2500, `ended ${Date.now() - at} ms after the key was gone (re-checked every second)`)
  t.match(JSON.parse(feed.events.at(-1)!.data), { code: 'GW_UNAUTHORIZED' })
})

t.test('a Last-Event-ID or after that is not a ZedToken of this datastore is a 400 naming it', async (t) => {
  const app = await buildTestApp(t)
  const ask = (headers: Record<string, string>, query = '') =>
    app.inject({ method: 'GET', url: `/v1/changes${query}`, headers: { accept: 'text/event-stream', ...headers } })
  for (const bad of ['garbage', 'Z2FyYmFnZQ==', '=HYPERLINK("x")']) {
    const byHeader = await ask({ 'last-event-id': bad })
    t.equal(byHeader.statusCode, 400, `Last-Event-ID ${bad}`)
    t.match(byHeader.json(), { code: 'GW_INVALID_ARGUMENT', field: 'last-event-id', message: /last-event-id: not a ZedToken/ })
    const byQuery = await ask({}, `?after=${encodeURIComponent(bad)}`)
    t.equal(byQuery.statusCode, 400, `after=${bad}`)
    t.match(byQuery.json(), { field: 'after' })
  }
  // a well-formed token of another datastore: its revision is readable, its datastore id is not ours
  const foreign = zedToken('1795418508726347189', 'some-other-datastore')
  const res = await ask({ 'last-event-id': foreign })
  t.equal(res.statusCode, 400, 'a token of another datastore')
  t.match(res.json(), { field: 'last-event-id', message: /another datastore/ })
})
