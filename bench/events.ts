/**
 * REST ingestion rate on many organizations: posts N events (default 2000) in batches of B
 * (default 100) via inject, interleaved across BENCH_ORGS organizations (default 100) the way a
 * platform's event feed arrives, and prints events/s for the batch applied in strict order
 * (EVENTS_BATCH_CONCURRENCY=1) and concurrently (the default setting, or BENCH_CONCURRENCY),
 * each on a fresh app measured in the same run, with the ratio. Both runs must end in the same
 * relationships (compared, guards aside), so speed cannot come from doing less.
 *   npx tsx bench/events.ts [events] [batch]
 *   BENCH_ENGINE=remote npx tsx bench/events.ts   (a fresh `spicedb serve` on Postgres per run;
 *     SPICEDB_BIN and TEST_POSTGRES_URL as for the tests)
 * The mix per organization: client creation with a primary coach, pairings, program enrolments,
 * group memberships, new coaches, their coaching permissions and program role changes.
 * The organizations, coaches, programs and groups the feed starts from are made once by their
 * events on a scratch embedded gateway, exported, and loaded into each measured gateway through
 * POST /v1/import (the onboarding path), so only the feed is timed and both runs start alike.
 */
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { startRemoteEngine } from '../test/helpers/engine-remote.js'

const total = Number(process.argv[2] ?? 2000)
const batch = Number(process.argv[3] ?? 100)
const orgs = Number(process.env.BENCH_ORGS ?? 100)
const remote = process.env.BENCH_ENGINE === 'remote'

let n = 0
const event = (type: string, data: Record<string, unknown>) => ({ id: `bench-${++n}`, type, data })

function setupEvents(): object[] {
  const out: object[] = []
  for (let o = 0; o < orgs; o++) {
    const org = `o${o}`
    out.push(event('organization.created', { organizationId: org, ownerId: `${org}-owner` }))
    for (let i = 0; i < 3; i++) out.push(event('organization.member_added', { organizationId: org, userId: `${org}-coach${i}`, role: 'coach' }))
    for (let i = 0; i < 2; i++) {
      out.push(event('program.created', { programId: `${org}-p${i}`, organizationId: org }))
      out.push(event('group.created', { groupId: `${org}-g${i}`, organizationId: org }))
    }
  }
  return out
}

/** The k-th event of an organization's feed; the feeds are interleaved round-robin. */
function feedEvent(o: number, k: number): object {
  const org = `o${o}`
  const coach = (i: number) => `${org}-coach${i % 3}`
  switch (k % 8) {
    case 0:
      return event('client.created', { clientId: `${org}-c${k}`, organizationId: org, primaryCoachId: coach(k) })
    case 1:
      return event('pairing.set', { clientId: `${org}-c${k - 1}`, coachId: coach(k + 1), level: 'coaching' })
    case 2:
      return event('program.role_assigned', { programId: `${org}-p${k % 2}`, userId: `${org}-u${k}`, role: 'participant' })
    case 3:
      return event('group.member_added', { groupId: `${org}-g${k % 2}`, userId: `${org}-u${k - 1}` })
    case 4:
      return event('organization.member_added', { organizationId: org, userId: `${org}-coach-new${k}`, role: 'coach' })
    case 5:
      return event('pairing.set', { clientId: `${org}-c${k - 5}`, coachId: `${org}-coach-new${k - 1}`, level: 'primary' })
    case 6:
      return event('organization.coaching_permissions_set', {
        organizationId: org,
        userId: `${org}-coach-new${k - 2}`,
        permissions: ['schedules_own', 'adds_clients'],
      })
    default:
      return event('program.role_assigned', { programId: `${org}-p${k % 2}`, userId: `${org}-u${k - 5}`, role: 'tutor' })
  }
}

function feed(): object[] {
  const out: object[] = []
  for (let k = 0; out.length < total; k++) for (let o = 0; o < orgs && out.length < total; o++) out.push(feedEvent(o, k))
  return out
}

/** The setup state as an export (NDJSON): the setup events applied on a scratch embedded gateway. */
async function setupExport(setup: object[]): Promise<string> {
  const env = { ...process.env, REDIS_URL: undefined, SPICEDB_ENDPOINT: undefined, EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true' }
  const app = await buildApp({ logger: false, config: loadConfig(env) })
  try {
    for (let i = 0; i < setup.length; i += 1000) {
      const res = await app.inject({ method: 'POST', url: '/v1/events', payload: { events: setup.slice(i, i + 1000) } })
      if (res.statusCode !== 200) throw new Error(res.body.slice(0, 2000))
    }
    return (await app.inject({ method: 'GET', url: '/v1/export' })).body
  } finally {
    await app.close()
  }
}

async function measure(concurrency: string | undefined, setup: string, events: object[]) {
  const engine = remote ? await startRemoteEngine() : undefined
  const engineEnv = engine
    ? { SPICEDB_ENDPOINT: engine.endpoints.join(','), SPICEDB_PRESHARED_KEY: engine.presharedKey, SPICEDB_INSECURE: 'true' }
    : { SPICEDB_ENDPOINT: undefined }
  const env = { ...process.env, REDIS_URL: undefined, EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true', ...engineEnv, EVENTS_BATCH_CONCURRENCY: concurrency }
  const app = await buildApp({ logger: false, config: loadConfig(env) })
  const calls = countCalls(app)
  try {
    const send = async (list: object[]) => {
      const res = await app.inject({ method: 'POST', url: '/v1/events', payload: { events: list } })
      if (res.statusCode !== 200) throw new Error(res.body.slice(0, 2000))
    }
    const imported = await app.inject({ method: 'POST', url: '/v1/import', headers: { 'content-type': 'application/x-ndjson' }, payload: setup })
    if (imported.statusCode !== 200) throw new Error(`importing the setup: ${imported.body.slice(0, 2000)}`)
    for (const k of Object.keys(calls)) calls[k] = 0
    const started = process.hrtime.bigint()
    for (let i = 0; i < events.length; i += batch) await send(events.slice(i, i + batch))
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const state = await relationships(app)
    const perEvent = (k: string) => (calls[k]! / events.length).toFixed(2)
    const work = `${perEvent('reads')} reads, ${perEvent('heads')} head lookups, ${perEvent('writes')} writes, ${perEvent('conflicts')} re-plans per event`
    return { seconds, rate: events.length / seconds, state, description: app.engine.description, work }
  } finally {
    await app.close()
    await engine?.close()
  }
}

/** engine calls made while measuring, and writes refused on a precondition (each one a re-plan) */
function countCalls(app: Awaited<ReturnType<typeof buildApp>>): Record<string, number> {
  const calls: Record<string, number> = { reads: 0, writes: 0, conflicts: 0, heads: 0 }
  // under the audit layer: grouped event writes go there directly (write-group.ts)
  const engine = app.gateway.unaudited
  // head revision lookups the read-your-writes layer makes below it (an engine call each)
  const adapter = app.gateway.adapter
  const head = adapter.headToken.bind(adapter)
  adapter.headToken = () => (calls.heads!++, head())
  const read = engine.readRelationships.bind(engine)
  const write = engine.writeRelationships.bind(engine)
  engine.readRelationships = (...args) => (calls.reads!++, read(...args))
  engine.writeRelationships = (...args) => {
    calls.writes!++
    return write(...args).catch((err: unknown) => {
      if ((err as { kind?: string }).kind === 'failed_precondition') calls.conflicts!++
      throw err
    })
  }
  return calls
}

/** every relationship but the guards, as sorted text */
async function relationships(app: Awaited<ReturnType<typeof buildApp>>): Promise<string[]> {
  const out: string[] = []
  for (const resourceType of ['organization', 'program', 'client', 'group']) {
    let cursor: string | undefined
    do {
      const page = await app.engine.readRelationships({ resourceType }, { limit: 1000, cursor }, { mode: 'fully_consistent' })
      for (const r of page.relationships) out.push(`${r.resource.type}:${r.resource.id}#${r.relation}@${r.subject.type}:${r.subject.id}`)
      cursor = page.cursor
    } while (cursor)
  }
  return out.sort()
}

const setup = await setupExport(setupEvents())
const events = feed()
const strict = await measure('1', setup, events)
const concurrent = await measure(process.env.BENCH_CONCURRENCY, setup, events)
const same = strict.state.length === concurrent.state.length && strict.state.every((r, i) => r === concurrent.state[i])
console.log(`${concurrent.description}; ${orgs} organizations, ${events.length} events in batches of ${batch}`)
console.log(`| order | seconds | events/s | vs strict order | engine calls |`)
console.log(`|---|---|---|---|---|`)
console.log(`| strict (EVENTS_BATCH_CONCURRENCY=1) | ${strict.seconds.toFixed(2)} | ${Math.round(strict.rate)} | 1.00x | ${strict.work} |`)
console.log(
  `| concurrent (${process.env.BENCH_CONCURRENCY ?? 'default'}) | ${concurrent.seconds.toFixed(2)} | ${Math.round(concurrent.rate)} | ${(concurrent.rate / strict.rate).toFixed(2)}x | ${concurrent.work} |`,
)
console.log(`final relationships: ${strict.state.length} strict, ${concurrent.state.length} concurrent, ${same ? 'identical' : 'DIFFERENT'}`)
if (!same) process.exitCode = 1
