/**
 * Stream ingestion rate: N events published to a fresh stream, then applied by one gateway's
 * consumer (embedded engine, Redis idempotency store). Prints events/s for a stream of
 * independent events (certificates: no organization, so each one waits for the one before),
 * one of events about a few objects of one organization (pairings, role changes), which
 * exercise invariant preconditions, and one of 100 organizations' feeds interleaved, in stream
 * order (EVENTS_BATCH_CONCURRENCY=1) and as the app orders each read (its default).
 *
 *   REDIS_URL=redis://127.0.0.1:6390 npx tsx bench/stream.ts     (BENCH_N=2000 by default)
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { StreamConsumer } from '../src/ingest/stream-consumer.js'

const N = Number(process.env.BENCH_N ?? 2000)
const url = process.env.REDIS_URL ?? process.env.TEST_REDIS_URL
if (!url) {
  console.error('bench/stream: set REDIS_URL (e.g. redis://127.0.0.1:6390)')
  process.exit(1)
}

type Event = { id: string; type: string; data: Record<string, unknown> }

function independent(run: string): Event[] {
  return Array.from({ length: N }, (_, i) => ({
    id: `${run}-${i}`,
    type: 'certificate.awarded',
    data: { certificateId: `${run}-c${i}`, learnerId: `${run}-u${i}` },
  }))
}

/** An organization with coaches and clients, then pairing changes and program role changes. */
function domain(run: string): Event[] {
  const org = `${run}-org`
  const out: Event[] = [{ id: `${run}-org`, type: 'organization.created', data: { organizationId: org, ownerId: `${run}-owner` } }]
  for (let c = 0; c < 10; c++)
    out.push({ id: `${run}-coach${c}`, type: 'organization.member_added', data: { organizationId: org, userId: `${run}-coach${c}`, role: 'coach' } })
  out.push({ id: `${run}-prog`, type: 'program.created', data: { programId: `${run}-p`, organizationId: org } })
  for (let k = 0; out.length < N; k++) {
    const i = k % 4
    if (i === 0)
      out.push({
        id: `${run}-cl${k}`,
        type: 'client.created',
        data: { clientId: `${run}-cl${k}`, organizationId: org, primaryCoachId: `${run}-coach${k % 10}` },
      })
    else if (i === 1)
      out.push({ id: `${run}-pr${k}`, type: 'pairing.set', data: { clientId: `${run}-cl${k - 1}`, coachId: `${run}-coach${(k + 3) % 10}`, level: 'primary' } })
    else if (i === 2)
      out.push({ id: `${run}-ra${k}`, type: 'program.role_assigned', data: { programId: `${run}-p`, userId: `${run}-u${k % 50}`, role: 'participant' } })
    else out.push({ id: `${run}-rb${k}`, type: 'program.role_assigned', data: { programId: `${run}-p`, userId: `${run}-u${k % 50}`, role: 'facilitator' } })
  }
  return out.slice(0, N)
}

/** 100 organizations, each created with 3 coaches, then their clients and pairings interleaved. */
function organizations(run: string): Event[] {
  const orgs = 100
  const out: Event[] = []
  for (let o = 0; o < orgs; o++) {
    out.push({ id: `${run}-o${o}`, type: 'organization.created', data: { organizationId: `${run}-o${o}`, ownerId: `${run}-o${o}-owner` } })
    for (let c = 0; c < 3; c++)
      out.push({
        id: `${run}-o${o}-coach${c}`,
        type: 'organization.member_added',
        data: { organizationId: `${run}-o${o}`, userId: `${run}-o${o}-coach${c}`, role: 'coach' },
      })
  }
  for (let k = 0; out.length < N; k++) {
    for (let o = 0; o < orgs && out.length < N; o++) {
      const org = `${run}-o${o}`
      if (k % 2 === 0)
        out.push({
          id: `${org}-cl${k}`,
          type: 'client.created',
          data: { clientId: `${org}-cl${k}`, organizationId: org, primaryCoachId: `${org}-coach${k % 3}` },
        })
      else
        out.push({
          id: `${org}-pr${k}`,
          type: 'pairing.set',
          data: { clientId: `${org}-cl${k - 1}`, coachId: `${org}-coach${(k + 1) % 3}`, level: 'coaching' },
        })
    }
  }
  return out.slice(0, N)
}

async function scenario(name: string, make: (run: string) => Event[], concurrency?: string) {
  const run = `bench-${randomBytes(3).toString('hex')}`
  const stream = `${run}:events`
  const dead = `${run}:dead`
  const redis = new Redis(url!)
  const events = make(run)
  for (let i = 0; i < events.length; i += 500) {
    const p = redis.pipeline()
    for (const e of events.slice(i, i + 500)) p.xadd(stream, '*', 'event', JSON.stringify(e))
    await p.exec()
  }
  let handled = 0
  let deadLettered = 0
  let done!: () => void
  const finished = new Promise<void>((r) => (done = r))
  const config = loadConfig({
    ...process.env,
    REDIS_URL: url,
    SPICEDB_ENDPOINT: undefined,
    EVENTS_STREAM_ENABLED: 'false',
    EVENTS_BATCH_CONCURRENCY: concurrency,
  })
  const app = await buildApp({ config, logger: false })
  // Streams off in the app: the timed run starts its own consumer on the built app, so
  // engine start-up is not counted.
  const consumer = new StreamConsumer({
    redis: app.redis!,
    apply: (raw) => app.events.apply(raw, { source: 'stream' }),
    order: (raws) => app.events.order(raws),
    concurrency: app.events.concurrency,
    stream,
    deadLetterStream: dead,
    group: 'bench',
    maxDeliveries: 5,
    onOutcome: (r) => {
      if (r.outcome === 'dead_lettered') deadLettered++
      if (r.outcome !== 'retry' && ++handled === events.length) done()
    },
  })
  const t0 = performance.now()
  consumer.start()
  await finished
  const seconds = (performance.now() - t0) / 1000
  await consumer.stop()
  await app.close()
  await redis.del(stream, dead)
  redis.disconnect()
  console.log(
    `${name.padEnd(32)} ${String(events.length).padStart(6)} events  ${(events.length / seconds).toFixed(0).padStart(6)} events/s  (${seconds.toFixed(2)} s, ${deadLettered} dead-lettered)`,
  )
}

console.log(`stream ingestion, one consumer, embedded engine, Redis ${url}`)
await scenario('independent (certificates)', independent)
await scenario('domain mix (pairings, roles)', domain)
await scenario('100 organizations, in order', organizations, '1')
await scenario('100 organizations (default)', organizations)
