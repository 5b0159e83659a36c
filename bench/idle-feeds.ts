/**
 * Issue 18 item 2, measured: one key opens 1,000 changes feeds and never reads them. Prints how
 * many were refused at the cap, 100 small writes' time with no feeds and with the feeds open
 * (ratio; target <= 1.5x), and RSS before, with the feeds, and after they close (target: back
 * within 20% of the baseline). In-memory embedded engine, one process.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const KEY = 'bench-audit-key-0123456789abcdef'
const FEEDS = Number(process.env.BENCH_FEEDS ?? 1000)
const app = await buildApp({ logger: false, config: loadConfig({ API_KEYS: `ops:${KEY}:audit+write+admin` }) })
await app.listen({ port: 0, host: '127.0.0.1' })
const port = (app.server.address() as AddressInfo).port
const auth = { authorization: `Bearer ${KEY}` }
let n = 0
async function writes(count: number): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/relationships',
      headers: auth,
      payload: { updates: [{ operation: 'touch', relationship: `user:u${n++}#manager@user:m1` }] },
    })
    if (res.statusCode !== 200) throw new Error(`write answered ${res.statusCode}: ${res.body}`)
  }
  return performance.now() - started
}
const rss = () => Math.round(process.memoryUsage().rss / 2 ** 20)
await writes(50) // warm up
global.gc?.()
const baseRss = rss()
const quiet = await writes(100)
const sockets: net.Socket[] = []
const statuses = new Map<string, number>()
await Promise.all(
  Array.from(
    { length: FEEDS },
    () =>
      new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () =>
          s.write(`GET /v1/changes HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\nauthorization: Bearer ${KEY}\r\n\r\n`),
        )
        s.once('data', (d) => {
          const st = /^HTTP\/1\.1 (\d{3})/.exec(d.toString())?.[1] ?? '?'
          statuses.set(st, (statuses.get(st) ?? 0) + 1)
          s.pause()
          resolve()
        })
        s.on('error', () => resolve())
        sockets.push(s)
      }),
  ),
)
const busy = await writes(100)
const withRss = rss()
for (const s of sockets) s.destroy()
await new Promise((r) => setTimeout(r, 2000))
global.gc?.()
const afterRss = rss()
console.log(`feeds asked ${FEEDS}: answers ${JSON.stringify(Object.fromEntries(statuses))}`)
console.log(`100 writes: ${quiet.toFixed(0)} ms with no feeds, ${busy.toFixed(0)} ms with the feeds open: ${(busy / quiet).toFixed(2)}x (target <= 1.5x)`)
console.log(
  `RSS: ${baseRss} MB before, ${withRss} MB with the feeds, ${afterRss} MB after they closed: ${(afterRss / baseRss).toFixed(2)}x of baseline (target <= 1.2x)`,
)
await app.close()
