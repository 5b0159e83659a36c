/**
 * Issue 23: what one `GET /v1/access-changes` costs, and what bounds it. A business of ORGS
 * organizations (one client each, a coach, an admin) is seeded by events; then WRITES member
 * changes land across the business, uniformly, so about 1/ORGS of them reach the client asked
 * about. Printed per call: wall time, trail records read, writes replayed (each one LookupSubjects
 * and one expansion), against the same window replayed without the walk's skip (every write of
 * a type the permission depends on: one LookupSubjects each, an expansion only where someone
 * changed), in the same process and run. Then the worst case, every write on the client's own
 * organization, to show what one replayed write costs. In-memory embedded engine.
 *
 *   npm run bench:access-changes          # ORGS=200 WRITES=2000
 */
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { accessChanges } from '../src/domain/audit/access-changes.js'
import { schemaArrows } from '../src/domain/schema/arrows.js'

const ORGS = Number(process.env.ORGS ?? 200)
const WRITES = Number(process.env.WRITES ?? 2000)
const app = await buildApp({ logger: false, config: loadConfig({ HISTORY_MAX_REVISIONS: '99999', HISTORY_MAX_SCANNED: '9999999' }) })
let n = 0
const ev = (type: string, data: Record<string, unknown>) => ({ id: `bench-${n++}`, type, data })
async function send(events: object[]) {
  for (let i = 0; i < events.length; i += 100) {
    const res = await app.inject({ method: 'POST', url: '/v1/events', payload: { events: events.slice(i, i + 100) } })
    if (res.statusCode !== 200) throw new Error(`events answered ${res.statusCode}: ${res.body}`)
  }
}
const seed: object[] = []
for (let o = 0; o < ORGS; o++) {
  seed.push(ev('organization.created', { organizationId: `o${o}`, ownerId: `owner${o}` }))
  seed.push(ev('organization.member_added', { organizationId: `o${o}`, userId: `coach${o}`, role: 'coach' }))
  seed.push(ev('organization.member_added', { organizationId: `o${o}`, userId: `admin${o}`, role: 'admin' }))
  seed.push(ev('client.created', { clientId: `c${o}`, organizationId: `o${o}`, primaryCoachId: `coach${o}` }))
}
await send(seed)
const pause = () => new Promise((r) => setTimeout(r, 5))
await pause()
const T1 = new Date().toISOString()
await pause()

/** one write at a time, as a platform's producer sends them: each its own record in the trail */
async function writes(count: number, org: () => number) {
  for (let i = 0; i < count; i++) {
    const o = org()
    const user = `m${n}`
    await send([ev('organization.member_added', { organizationId: `o${o}`, userId: user, role: i % 3 === 0 ? 'admin' : 'member' })])
  }
}
let seedRandom = 42
const random = () => (seedRandom = (seedRandom * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
await writes(WRITES, () => Math.floor(random() * ORGS))
await pause()
const T2 = new Date().toISOString()
await pause()
await writes(Math.min(200, WRITES), () => 0)
await pause()
const T3 = new Date().toISOString()

const arrows = schemaArrows(app.schemaText)
async function measure(since: string, until: string, skipUnreached: boolean) {
  const started = performance.now()
  const answer = await accessChanges(
    app.engine,
    app.history,
    app.history.trail,
    { resource: 'client:c0', permission: 'view', since, until },
    {
      now: new Date(),
      schemaText: app.schemaText,
      arrows,
      maxRevisions: 99_999,
      maxScanned: 9_999_999,
      limits: { maxSubjects: app.config.lookupSubjectsMax },
      skipUnreached,
    },
  )
  return {
    ms: performance.now() - started,
    scanned: answer.scanned,
    replayed: answer.revisions,
    changes: answer.changes.length,
    said: JSON.stringify(answer.changes),
  }
}
const line = (label: string, m: Awaited<ReturnType<typeof measure>>) =>
  `${label.padEnd(44)} ${m.ms.toFixed(0).padStart(6)} ms  read ${String(m.scanned).padStart(5)}  replayed ${String(m.replayed).padStart(5)}  changes ${m.changes}`
await measure(T1, T2, true) // warm up
console.log(`${ORGS} organizations; window 1: ${WRITES} writes across the business; window 2: ${Math.min(200, WRITES)} on client c0's organization`)
const spread = await measure(T1, T2, true)
const spreadAll = await measure(T1, T2, false)
if (spread.said !== spreadAll.said) throw new Error(`the skip changed the answer: ${spread.changes} against ${spreadAll.changes} changes`)
console.log(line('window 1, skipping writes that cannot reach', spread))
console.log(line('window 1, every write of a type it depends on', spreadAll))
console.log(`  -> ${(spreadAll.ms / spread.ms).toFixed(1)}x faster, the same ${spread.changes} changes`)
const own = await measure(T2, T3, true)
const ownAll = await measure(T2, T3, false)
if (own.said !== ownAll.said) throw new Error(`the skip changed the answer: ${own.changes} against ${ownAll.changes} changes`)
console.log(line('window 2, skipping writes that cannot reach', own))
console.log(line('window 2, every write of a type it depends on', ownAll))
console.log(
  `  -> one replayed write: ${(own.ms / own.replayed).toFixed(2)} ms with the walk, ${(ownAll.ms / ownAll.replayed).toFixed(2)} ms without (${(own.ms / ownAll.ms).toFixed(2)}x)`,
)
console.log(
  `bounds per call: HISTORY_MAX_REVISIONS=${app.config.history.maxRevisions === 99_999 ? 200 : app.config.history.maxRevisions} replayed, HISTORY_MAX_SCANNED=50000 read (defaults; a cursor past either)`,
)
await app.close()
