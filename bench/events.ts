/**
 * REST ingestion rate: posts N events (default 2000) in batches of B (default 100) via inject
 * to a fresh app on the embedded engine, and prints events/s. A mix of the common events:
 * program enrolments, client creation with a primary coach, group membership, pairings.
 *   npx tsx bench/events.ts [events] [batch]    (SPICEDB_ENDPOINT=... to measure a SpiceDB server)
 */
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const total = Number(process.argv[2] ?? 2000)
const batch = Number(process.argv[3] ?? 100)
const app = await buildApp({ logger: false, config: loadConfig({ ...process.env, REDIS_URL: undefined, EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true' }) })
let n = 0
const event = (type: string, data: Record<string, unknown>) => ({ id: `bench-${++n}`, type, data })
const send = async (events: object[]) => {
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: { events } })
  if (res.statusCode !== 200) throw new Error(res.body)
}

try {
  const setup = [event('organization.created', { organizationId: 'acme', ownerId: 'olivia' })]
  for (let i = 0; i < 10; i++) {
    setup.push(event('organization.member_added', { organizationId: 'acme', userId: `coach${i}`, role: 'coach' }))
    setup.push(event('program.created', { programId: `p${i}`, organizationId: 'acme' }))
    setup.push(event('group.created', { groupId: `g${i}`, organizationId: 'acme' }))
  }
  await send(setup)
  const events = Array.from({ length: total }, (_, i) => {
    switch (i % 4) {
      case 0: return event('program.role_assigned', { programId: `p${i % 10}`, userId: `u${i}`, role: 'participant' })
      case 1: return event('client.created', { clientId: `c${i}`, organizationId: 'acme', primaryCoachId: `coach${i % 10}` })
      case 2: return event('group.member_added', { groupId: `g${i % 10}`, userId: `u${i}` })
      default: return event('pairing.set', { clientId: `c${i - 2}`, coachId: `coach${(i + 1) % 10}`, level: 'coaching' })
    }
  })
  const started = process.hrtime.bigint()
  for (let i = 0; i < events.length; i += batch) await send(events.slice(i, i + batch))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  console.log(`${total} events in batches of ${batch}: ${seconds.toFixed(2)} s, ${Math.round(total / seconds)} events/s (${app.engine.description})`)
} finally {
  await app.close()
}
