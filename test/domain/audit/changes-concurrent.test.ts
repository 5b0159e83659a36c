import t from 'tap'
import net from 'node:net'
import { buildTestApp } from '../../helpers/app.js'
import { readSse, type SseEvent } from '../../helpers/sse.js'

const relationshipsOf = (events: SseEvent[]) =>
  events.filter((e) => e.event === 'change').flatMap((e) => (JSON.parse(e.data).changes as { relationship: string }[]).map((c) => c.relationship))

// On the embedded in-memory datastore this holds once writes are serialized (SpiceDB #3212:
// concurrent writes can be recorded out of revision order, so a resume token can pass a write
// committed later at a lower revision); the ryw branch serializes them in src/engine/embedded.ts.
t.test('concurrent writers, a reader that drops out and resumes: every change exactly once', async (t) => {
  const app = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as net.AddressInfo).port
  const ROUNDS = 5
  const PER_ROUND = 40
  let seen: string[] = []
  let lastId: string | undefined
  const expected: string[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const feed = readSse(port, '/v1/changes?types=user', lastId ? { 'last-event-id': lastId } : {})
    t.equal(await feed.status, 200)
    await feed.waitFor((e) => e.some((x) => x.event === 'ready'))
    const writes = Array.from({ length: PER_ROUND }, (_, i) => {
      const r = `user:r${round}-${i}#manager@user:m`
      expected.push(r)
      return app.engine.writeRelationships([
        { operation: 'touch', relationship: { resource: { type: 'user', id: `r${round}-${i}` }, relation: 'manager', subject: { type: 'user', id: 'm' } } },
      ])
    })
    // cut the reader off part-way through the burst
    await feed.waitFor((e) => relationshipsOf(e).length >= PER_ROUND / 4, 20_000).catch(() => undefined)
    feed.close()
    await feed.ended
    await Promise.all(writes)
    seen = [...seen, ...relationshipsOf(feed.events)]
    lastId = feed.events.at(-1)?.id ?? lastId
  }
  const tail = readSse(port, '/v1/changes?types=user', lastId ? { 'last-event-id': lastId } : {})
  await tail.waitFor((e) => seen.length + relationshipsOf(e).length >= expected.length, 20_000).catch(() => undefined)
  await new Promise((r) => setTimeout(r, 300))
  tail.close()
  seen = [...seen, ...relationshipsOf(tail.events)]
  const missing = expected.filter((r) => !seen.includes(r))
  const twice = seen.length - new Set(seen).size
  t.same(
    { missing: missing.length, twice },
    { missing: 0, twice: 0 },
    `${expected.length} concurrent writes over ${ROUNDS + 1} connections: ${missing.length} missed, ${twice} seen twice`,
  )
})
