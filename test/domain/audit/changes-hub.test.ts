/**
 * Feeds are bounded (issue 18 item 2): caps per key and in all answer 429 with retry-after;
 * every feed of a process shares one engine Watch (counted by a wrapper around the real
 * engine's watch, which it calls through), each filtering its own types; a resume from a
 * token the hub holds joins it, an older one catches up on its own Watch and then joins it,
 * exactly once and in order; a slow reader is dropped without holding up the others.
 */
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import type { ChangeBatch, WatchOptions } from '../../../src/engine/port.js'
import type { FeedOptions } from '../../../src/domain/audit/changes-feed.js'
import { buildTestApp, type TestApp } from '../../helpers/app.js'
import { readSse, type SseEvent, type SseReader } from '../../helpers/sse.js'

const key = (name: string) => `${name}-key-0123456789abcdef`
const auth = (name: string) => ({ authorization: `Bearer ${key(name)}` })

async function listen(app: TestApp): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as net.AddressInfo).port
}

/** counts the engine Watches the gateway opens (and how many are open), delegating to the real one */
function countWatches(app: TestApp) {
  const real = app.engine.watch!.bind(app.engine)
  const counts = { opened: 0, open: 0 }
  Object.assign(app.engine, {
    watch(opts: WatchOptions, signal: AbortSignal): AsyncIterable<ChangeBatch> {
      counts.opened++
      counts.open++
      signal.addEventListener('abort', () => counts.open--, { once: true })
      return real(opts, signal)
    },
  })
  return counts
}

const write = (app: TestApp, type: string, id: string) =>
  app.engine.writeRelationships([
    { operation: 'touch', relationship: { resource: { type, id }, relation: type === 'client' ? 'primary' : 'manager', subject: { type: 'user', id: 'm' } } },
  ])

const relationshipsOf = (events: SseEvent[]) =>
  events.filter((e) => e.event === 'change').flatMap((e) => (JSON.parse(e.data).changes as { relationship: string }[]).map((c) => c.relationship))

/** a sample of the gateway's /metrics (0 when absent) */
async function metric(app: TestApp, name: string, labels = ''): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}}` : `${name} `))
  return line ? Number(line.split(' ').at(-1)) : 0
}

const ready = (f: SseReader) => f.waitFor((e) => e.some((x) => x.event === 'ready'))

async function build(t: Tap, feed: Partial<FeedOptions> = {}, limits = { maxPerKey: 16, maxTotal: 256 }) {
  return buildTestApp(t, {
    overrides: { apiKeys: [`a:${key('a')}:audit`, `b:${key('b')}:audit`], feeds: { ...limits, reauthSeconds: 5 } },
    changesFeed: feed,
  })
}
type Tap = Parameters<typeof buildTestApp>[0]

t.test('past the cap per key, and past the cap in all: 429 GW_RATE_LIMITED with retry-after; a closed feed frees its place', async (t) => {
  const app = await build(t, {}, { maxPerKey: 2, maxTotal: 3 })
  const port = await listen(app)
  const open = (who: string) => readSse(port, '/v1/changes', auth(who))
  // over the socket, not inject: a feed that is not refused streams and never completes
  const refused = (who: string) =>
    new Promise<{ statusCode: number; headers: http.IncomingHttpHeaders; json: () => unknown }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/v1/changes', headers: { ...auth(who), accept: 'text/event-stream' } }, (res) => {
          let body = ''
          if (res.statusCode === 200) res.destroy()
          res.setEncoding('utf8').on('data', (d: string) => (body += d))
          res.on('close', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, json: () => JSON.parse(body || '{}') }))
        })
        .on('error', reject)
    })
  const a1 = open('a')
  const a2 = open('a')
  t.same([await a1.status, await a2.status], [200, 200])
  const perKey = await refused('a')
  t.equal(perKey.statusCode, 429, 'a third feed of one key')
  t.match(perKey.json(), { code: 'GW_RATE_LIMITED', message: /key a has 2 changes feeds open.*FEEDS_MAX_PER_KEY/ })
  t.equal(perKey.headers['retry-after'], '5')
  const b1 = open('b')
  t.equal(await b1.status, 200, 'another key still may, within the total')
  const total = await refused('b')
  t.equal(total.statusCode, 429, 'past the total')
  t.match(total.json(), { code: 'GW_RATE_LIMITED', message: /3 changes feeds are open.*FEEDS_MAX/ })
  t.ok(total.headers['retry-after'])
  a1.close()
  await a1.ended
  // the close reaches the server a moment later
  let again: SseReader | undefined
  for (let i = 0; i < 50 && !again; i++) {
    const f = open('a')
    if ((await f.status) === 200) again = f
    else await new Promise((r) => setTimeout(r, 20))
  }
  t.ok(again, 'a closed feed frees its place')
  for (const f of [a2, b1, again]) f?.close()
})

t.test('every feed shares one engine Watch, each filtering its own types; the Watch closes with the last feed', async (t) => {
  const app = await build(t)
  const counts = countWatches(app)
  const port = await listen(app)
  const users = Array.from({ length: 4 }, () => readSse(port, '/v1/changes?types=user', auth('a')))
  const clients = readSse(port, '/v1/changes?types=client', auth('b'))
  const all = readSse(port, '/v1/changes', auth('b'))
  const feeds = [...users, clients, all]
  for (const f of feeds) await ready(f)
  for (let i = 0; i < 10; i++) {
    await write(app, 'user', `u${i}`)
    await write(app, 'client', `c${i}`)
  }
  await all.waitFor((e) => relationshipsOf(e).length >= 20)
  for (const u of users) await u.waitFor((e) => relationshipsOf(e).length >= 10)
  await clients.waitFor((e) => relationshipsOf(e).length >= 10)
  await new Promise((r) => setTimeout(r, 200))
  t.equal(counts.opened, 1, `${feeds.length} feeds, one engine watch`)
  t.same([await metric(app, 'trellis_changes_feeds_open'), await metric(app, 'trellis_changes_watches_open')], [feeds.length, 1], '/metrics says so too')
  for (const u of users)
    t.same(
      relationshipsOf(u.events),
      Array.from({ length: 10 }, (_, i) => `user:u${i}#manager@user:m`),
      'users only, in order',
    )
  t.same(
    relationshipsOf(clients.events),
    Array.from({ length: 10 }, (_, i) => `client:c${i}#primary@user:m`),
    'clients only, in order',
  )
  t.equal(relationshipsOf(all.events).length, 20, 'no filter: everything')
  for (const f of feeds) {
    f.close()
    await f.ended
  }
  const until = Date.now() + 3000
  while (counts.open > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.equal(counts.open, 0, 'the Watch closed when the last feed left')
  t.same([await metric(app, 'trellis_changes_watches_open'), await metric(app, 'trellis_changes_watches_opened_total')], [0, 1])
})

t.test('a resume from a token the hub holds joins it; an older one catches up on its own Watch, then joins: exactly once, in order', async (t) => {
  const app = await build(t, { ringBatches: 4 })
  const counts = countWatches(app)
  const port = await listen(app)
  const anchor = readSse(port, '/v1/changes?types=client', auth('a')) // keeps the hub open
  await ready(anchor)
  const expected: string[] = []
  const userWrite = async (id: string) => {
    expected.push(`user:${id}#manager@user:m`)
    await write(app, 'user', id)
  }
  const seen: string[] = []
  const readUntil = async (after: string | undefined, _n: number) => {
    const f = readSse(port, '/v1/changes?types=user', { ...auth('b'), ...(after ? { 'last-event-id': after } : {}) })
    t.equal(await f.status, 200)
    await ready(f)
    return f
  }

  // 1. recent: the token is in the hub's ring
  const first = await readUntil(undefined, 0)
  await userWrite('r1')
  await first.waitFor((e) => relationshipsOf(e).length >= 1)
  first.close()
  await first.ended
  seen.push(...relationshipsOf(first.events))
  await userWrite('r2')
  const second = await readUntil(first.events.at(-1)!.id, 0)
  await second.waitFor((e) => relationshipsOf(e).length >= 1)
  t.equal(counts.opened, 1, 'a resume within the ring needs no Watch of its own')
  second.close()
  await second.ended
  seen.push(...relationshipsOf(second.events))

  // 2. old: more batches than the ring holds went by (clients too, which the ring also keeps)
  for (let i = 0; i < 6; i++) {
    await userWrite(`o${i}`)
    await write(app, 'client', `x${i}`)
  }
  // the hub has received them all once the anchor saw the last (a Watch on Postgres follows by
  // polling, so without this wait the resume could still find its token in a ring not yet moved on)
  await anchor.waitFor((e) => relationshipsOf(e).includes('client:x5#primary@user:m'))
  const third = await readUntil(second.events.at(-1)!.id, 0)
  await third.waitFor((e) => relationshipsOf(e).length >= 6)
  t.equal(counts.opened, 2, 'a resume older than the ring catches up on its own Watch')
  // then writes go on: the catch-up meets the hub and leaves its own Watch
  for (let i = 0; i < 4; i++) await userWrite(`n${i}`)
  await third.waitFor((e) => relationshipsOf(e).length >= 10)
  const until = Date.now() + 3000
  while (counts.open > 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.equal(counts.open, 1, 'once it met the hub, only the hub Watch is open')
  t.equal(await metric(app, 'trellis_changes_watches_open'), 1, 'as /metrics reports')
  await userWrite('last')
  await third.waitFor((e) => relationshipsOf(e).length >= 11)
  await new Promise((r) => setTimeout(r, 200))
  seen.push(...relationshipsOf(third.events))
  t.same(seen, expected, 'every user change once, in order, across three connections')
  const ids = [...first.events, ...second.events, ...third.events].filter((e) => e.event === 'change').map((e) => e.id)
  t.equal(new Set(ids).size, ids.length, 'no revision twice')
  third.close()
  anchor.close()
})

t.test('a reader that never reads is dropped with a final event once its backlog passes the bound; the others get every change', async (t) => {
  // the kernel takes a few MiB of a socket nobody reads before writes stop completing: the
  // feed is dropped only past that, so the test writes until the gateway reports the drop
  const app = await build(t, { maxBufferedBytes: 64 * 1024, drainTimeoutMs: 2000 })
  const port = await listen(app)
  const socket = net.connect(port, '127.0.0.1')
  await new Promise((r) => socket.once('connect', r))
  socket.write(`GET /v1/changes?types=user HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\nauthorization: Bearer ${key('a')}\r\n\r\n`)
  socket.pause()
  const healthy = readSse(port, '/v1/changes?types=user', auth('b'))
  await ready(healthy)
  for (let i = 0; i < 250 && (await metric(app, 'trellis_changes_feeds_open')) < 2; i++) await new Promise((r) => setTimeout(r, 20))
  t.equal(await metric(app, 'trellis_changes_feeds_open'), 2, 'both feeds open')
  const long = 'x'.repeat(900)
  const PER = 500
  let batches = 0
  const writeBatch = (tag: string) =>
    app.engine.writeRelationships(
      Array.from({ length: PER }, (_, i) => ({
        operation: 'touch' as const,
        relationship: { resource: { type: 'user', id: `${long}${tag}-${i}` }, relation: 'manager', subject: { type: 'user', id: 'm' } },
      })),
    )
  // up to about 40 MiB: far past any kernel's buffering of one socket
  while ((await metric(app, 'trellis_changes_feeds_ended_total', 'end="dropped"')) === 0 && batches < 90) {
    await writeBatch(`b${batches++}`)
    await healthy.waitFor((e) => e.filter((x) => x.event === 'change').length >= batches)
  }
  t.equal(
    await metric(app, 'trellis_changes_feeds_ended_total', 'end="dropped"'),
    1,
    `the stalled reader was dropped after ${batches} batches of ${PER} changes (${((batches * PER * 960) / 2 ** 20).toFixed(1)} MiB)`,
  )
  t.equal(await metric(app, 'trellis_changes_feeds_open'), 1, 'and no longer counts as open')
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (d: string) => (text += d))
  socket.resume()
  await new Promise((r) => socket.once('close', r))
  await writeBatch('after')
  await healthy.waitFor((e) => e.filter((x) => x.event === 'change').length >= batches + 1)
  t.equal(relationshipsOf(healthy.events).length, (batches + 1) * PER, 'the reading feed got every change, and was not dropped')
  t.notOk(healthy.events.some((e) => e.event === 'dropped'))
  const last =
    text
      .split('\n\n')
      .filter((b) => b.includes('event: '))
      .at(-1) ?? ''
  t.match(last, /event: dropped/, 'the stalled reader, reading again, finds a final dropped event')
  t.match(JSON.parse(/data: (.*)/.exec(last)![1]!), { reason: /slow reader/, resumeFrom: /.+/ })
  t.notOk(text.includes(`${long}after-`), 'nothing written after the drop reached it')
  healthy.close()
})
