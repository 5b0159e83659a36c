/**
 * The onboarding suites' business and helpers: a coaching business made by events, NDJSON export
 * and import over HTTP, and sampled checks asked in bulk.
 */
import type { TestApp } from './app.js'
import { ev } from './events.js'

export const CLIENTS = 5

/** Per organization: owner, two coaches, clients; a program with a participant and a section released later (a caveat). */
export function business(orgs = 10, clients = CLIENTS): object[] {
  const events: object[] = []
  for (let o = 0; o < orgs; o++) {
    events.push(ev('organization.created', { organizationId: `o${o}`, ownerId: `o${o}-owner` }))
    for (const k of [0, 1]) events.push(ev('organization.member_added', { organizationId: `o${o}`, userId: `o${o}-k${k}`, role: 'coach' }))
    for (let c = 0; c < clients; c++) {
      events.push(ev('client.created', { clientId: `o${o}-c${c}`, organizationId: `o${o}`, primaryCoachId: `o${o}-k${c % 2}`, userId: `o${o}-u${c}` }))
    }
    events.push(ev('program.created', { programId: `o${o}-p`, organizationId: `o${o}` }))
    events.push(ev('program.role_assigned', { programId: `o${o}-p`, userId: `o${o}-u0`, role: 'participant' }))
    // even organizations' sections are released already, odd ones' later: both caveat answers
    events.push(ev('section.created', { sectionId: `o${o}-s`, programId: `o${o}-p`, releaseAt: o % 2 ? '2099-01-01T00:00:00Z' : '2001-01-01T00:00:00Z' }))
  }
  return events
}

/** a seeded generator, so every run asks the same questions */
export function random(seed: number) {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
}

/** Checks over the business: an object and a user of the same organization half the time, another one's otherwise. */
export function sampledChecks(orgs: number, n: number) {
  const next = random(22)
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!
  const objects = [
    ['client', (o: number) => `o${o}-c${Math.floor(next() * CLIENTS)}`, ['view', 'delete', 'coach', 'manage']],
    ['organization', (o: number) => `o${o}`, ['administer', 'can_manage_pairings', 'manage_admin_privileges', 'add_client']],
    ['program', (o: number) => `o${o}-p`, ['view', 'participate', 'edit_content']],
    ['section', (o: number) => `o${o}-s`, ['view']],
  ] as const
  const users = (o: number) => [`o${o}-owner`, `o${o}-k0`, `o${o}-k1`, `o${o}-u0`, `o${o}-u${1 + Math.floor(next() * (CLIENTS - 1))}`]
  const checks: { resource: string; permission: string; subject: string }[] = []
  for (let i = 0; i < n; i++) {
    const o = Math.floor(next() * orgs)
    const [type, id, permissions] = pick(objects)
    const who = next() < 0.5 ? o : Math.floor(next() * orgs)
    checks.push({ resource: `${type}:${id(o)}`, permission: pick(permissions), subject: `user:${pick(users(who))}` })
  }
  return checks
}

export async function bulkCheck(app: TestApp, items: object[]): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < items.length; i += 100) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/check/bulk',
      payload: { items: items.slice(i, i + 100), consistency: { mode: 'fully_consistent' } },
    })
    if (res.statusCode !== 200) throw new Error(res.body)
    for (const r of res.json().results as { permissionship: string; error?: unknown }[])
      out.push(r.error ? `error ${JSON.stringify(r.error)}` : r.permissionship)
  }
  return out
}

export const exportBody = async (app: TestApp) => {
  const res = await app.inject({ method: 'GET', url: '/v1/export' })
  return { status: res.statusCode, type: res.headers['content-type'], lines: res.body.trim().split('\n') }
}
export const relationshipsOf = (lines: string[]) => lines.slice(0, -1).sort()
export const importBody = (app: TestApp, body: string) =>
  app.inject({ method: 'POST', url: '/v1/import', headers: { 'content-type': 'application/x-ndjson' }, payload: body })

export async function seed(app: TestApp, events: object[], inFlight = 4) {
  // batches of whole organizations (business() lists each organization's events together), a
  // few in flight: organizations are independent, so their order across batches does not matter
  const batches: object[][] = []
  let current: object[] = []
  for (const e of events) {
    const org = (e as { data: { organizationId?: string } }).data.organizationId
    if (current.length >= 900 && (e as { type: string }).type === 'organization.created' && org) {
      batches.push(current)
      current = []
    }
    current.push(e)
  }
  if (current.length) batches.push(current)
  const send = async () => {
    for (let batch = batches.shift(); batch; batch = batches.shift()) {
      const res = await app.inject({ method: 'POST', url: '/v1/events', payload: { events: batch } })
      if (res.statusCode !== 200) throw new Error(res.body.slice(0, 2000))
    }
  }
  await Promise.all(Array.from({ length: inFlight }, send))
}

export async function check(app: TestApp, resource: string, permission: string, subject: string) {
  const res = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource, permission, subject } })
  return res.json().allowed as boolean
}
