import t from 'tap'
import net from 'node:net'
import { buildTestApp, type TestApp } from '../../helpers/app.js'
import { readSse, type SseEvent } from '../../helpers/sse.js'

const rel = (resource: string, relation: string, subject: string) => ({
  resource: { type: resource.split(':')[0]!, id: resource.split(':')[1]! },
  relation,
  subject: { type: subject.split(':')[0]!, id: subject.split(':')[1]! },
})

async function listen(app: TestApp): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as net.AddressInfo).port
}

const relationshipsOf = (events: SseEvent[]) =>
  events.filter((e) => e.event === 'change').flatMap((e) => (JSON.parse(e.data).changes as { relationship: string }[]).map((c) => c.relationship))

t.test('a reader that disconnects and resumes from its last id misses nothing and sees nothing twice', async (t) => {
  const app = await buildTestApp(t)
  const port = await listen(app)
  const first = readSse(port, '/v1/changes?types=user')
  t.equal(await first.status, 200)
  await first.waitFor((e) => e.some((x) => x.event === 'ready'))

  const N = 80
  const expected = Array.from({ length: N }, (_, i) => `user:u${i}#manager@user:m${i}`)
  // writes go on, one revision each, while the reader drops out and comes back; other types interleave
  const writing = (async () => {
    for (let i = 0; i < N; i++) {
      await app.engine.writeRelationships([{ operation: 'touch', relationship: rel(`user:u${i}`, 'manager', `user:m${i}`) }])
      if (i % 4 === 0) await app.engine.writeRelationships([{ operation: 'touch', relationship: rel(`client:c${i}`, 'primary', 'user:rob') }])
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5))
    }
  })()
  await first.waitFor((e) => e.filter((x) => x.event === 'change').length >= 15)
  first.close()
  await first.ended
  const lastId = first.events.at(-1)!.id!
  t.ok(lastId, `first reader stopped after ${first.events.length} events at ${lastId}`)
  await new Promise((r) => setTimeout(r, 100))
  const second = readSse(port, '/v1/changes?types=user', { 'last-event-id': lastId })
  t.equal(await second.status, 200)
  await writing
  const seen = () => [...relationshipsOf(first.events), ...relationshipsOf(second.events)]
  await second.waitFor(() => seen().length >= N)
  await new Promise((r) => setTimeout(r, 300)) // anything extra would arrive now
  second.close()
  const all = seen()
  t.equal(all.length, N, `${N} relationships seen across both connections (${relationshipsOf(first.events).length} + ${relationshipsOf(second.events).length})`)
  t.same([...new Set(all)].sort(), [...expected].sort(), 'each exactly once, and only the watched type')
  t.ok(
    second.events.every((e) => e.id),
    'every event carries its ZedToken as id',
  )
  t.match(second.events[0], { event: 'ready', id: lastId }, 'the resumed feed starts where the reader left off')
  const changes = [...first.events, ...second.events].filter((e) => e.event === 'change')
  t.equal(new Set(changes.map((e) => e.id)).size, changes.length, 'no revision twice')
})

t.test('heartbeats keep an idle feed alive; bad requests are refused before the stream opens', async (t) => {
  const app = await buildTestApp(t, { changesFeed: { heartbeatMs: 50 } })
  const port = await listen(app)
  const feed = readSse(port, '/v1/changes')
  t.equal(await feed.status, 200)
  const until = Date.now() + 5000
  while (feed.comments.filter((c) => c.startsWith('heartbeat')).length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.ok(feed.comments.filter((c) => c.startsWith('heartbeat')).length >= 3, 'heartbeat comments')
  feed.close()

  const noAccept = await app.inject({ method: 'GET', url: '/v1/changes' })
  t.equal(noAccept.statusCode, 406)
  t.equal(noAccept.json().code, 'GW_NOT_ACCEPTABLE')
  const unknown = await app.inject({ method: 'GET', url: '/v1/changes?types=client,spaceship', headers: { accept: 'text/event-stream' } })
  t.equal(unknown.statusCode, 400)
  t.match(unknown.json(), { field: 'types' })
  const badList = await app.inject({ method: 'GET', url: '/v1/changes?types=client;drop', headers: { accept: 'text/event-stream' } })
  t.equal(badList.statusCode, 400)
})

t.test('an open feed does not hold up shutdown', async (t) => {
  const app = await buildTestApp(t)
  const port = await listen(app)
  const feed = readSse(port, '/v1/changes')
  t.equal(await feed.status, 200)
  const started = Date.now()
  const closing = app.close()
  await feed.ended
  t.ok(Date.now() - started < 2000, `the feed ended ${Date.now() - started} ms into shutdown`)
  await closing
  t.ok(Date.now() - started < 3000, `the app closed in ${Date.now() - started} ms`)
})

// A reader that stops reading is dropped with a final event: test/domain/audit/changes-hub.test.ts, beside
// a reader that keeps up (one event larger than the bound used to drop even a reader that read).
