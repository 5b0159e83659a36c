/**
 * `npm run bench:import-index [relationships]`: the memory and time of the import judgement's
 * index alone (src/domain/onboarding/import-judgement.ts), in this process, on the data of
 * bench/data.ts: the heap and typed-array bytes it holds once the whole set is in, and the time
 * to index and to judge it. Run with --expose-gc (the npm script does), so the figure is what
 * survives a full collection, not garbage.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { JudgementIndex } from '../src/domain/onboarding/import-judgement.js'
import { parseLine } from '../src/domain/onboarding/ndjson.js'
import type { Relationship } from '../src/engine/port.js'
import { indexSchema } from '../src/domain/schema/subject-uses.js'
import { generateData } from './data.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const wanted = Number(process.argv[2] ?? 1_000_000)
const gc =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error('run with node --expose-gc')
  })
const rules = { schema: indexSchema(readFileSync(path.join(root, 'schema.zed'), 'utf8')), caveatContext() {} }
const load = () => generateData(Math.ceil(wanted / 823)).map((r, i) => parseLine(JSON.stringify({ relationship: r }), i + 1, rules) as Relationship)

async function held(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 50))
    gc()
  }
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

const rels = load()
const before = await held()
const index = new JudgementIndex()
let t0 = performance.now()
rels.forEach((r, i) => index.add(r, i + 1))
const addMs = performance.now() - t0
const indexed = (await held()) - before
t0 = performance.now()
const violations = await index.judgeAll()
const judgeMs = performance.now() - t0
const judged = (await held()) - before
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`
console.log(
  `${rels.length} relationships: index ${mb(indexed)} (${Math.round(indexed / rels.length)} bytes each), ${mb(judged)} once judged; indexing ${(addMs / 1000).toFixed(1)} s, judging ${(judgeMs / 1000).toFixed(1)} s, ${violations.length} violations`,
)
