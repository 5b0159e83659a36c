/**
 * Benchmark data: coaching businesses of the shape the issue measured (per organization an
 * owner, an admin, an auditor with view_all_clients, 20 coaches and 200 clients, each client
 * with its organization, a primary coach, a second coaching coach and its own login), and
 * distinct random checks over it from a seeded generator, so every run asks the same questions.
 */

export interface BenchCheck {
  resourceType: string
  resourceId: string
  permission: string
  userId: string
}

export const COACHES = 20
export const CLIENTS = 200

/** Relationships as `resource#relation@subject`; organization roles come before the clients. */
export function generateData(orgs: number): string[] {
  const roles: string[] = []
  const clients: string[] = []
  for (let o = 0; o < orgs; o++) {
    const org = `organization:o${o}`
    roles.push(`${org}#owner@user:o${o}-owner`, `${org}#admin@user:o${o}-admin`, `${org}#view_all_clients@user:o${o}-auditor`)
    for (let k = 0; k < COACHES; k++) roles.push(`${org}#coach@user:o${o}-coach${k}`)
    for (let c = 0; c < CLIENTS; c++) {
      const client = `client:o${o}-c${c}`
      clients.push(
        `${client}#organization@${org}`,
        `${client}#primary@user:o${o}-coach${c % COACHES}`,
        `${client}#coaching@user:o${o}-coach${(c + 7) % COACHES}`,
        `${client}#account@user:o${o}-client${c}`,
      )
    }
  }
  return [...roles, ...clients]
}

/** mulberry32: a small seeded PRNG, so the check list is the same in every run */
export function prng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const PERMISSIONS = ['view', 'view', 'coach', 'notify', 'listed_coach']

/** `n` distinct client checks: coaches of the org and of others, staff, the client, strangers. */
export function randomChecks(orgs: number, n: number, seed: number): BenchCheck[] {
  const rand = prng(seed)
  const pick = (k: number) => Math.floor(rand() * k)
  const seen = new Set<string>()
  const out: BenchCheck[] = []
  const limit = Math.min(n, orgs * CLIENTS * (COACHES + 4) * 2)
  while (out.length < limit) {
    const o = pick(orgs)
    const c = pick(CLIENTS)
    const other = pick(orgs)
    const userId = [
      () => `o${o}-coach${pick(COACHES)}`,
      () => `o${o}-coach${c % COACHES}`,
      () => `o${other}-coach${pick(COACHES)}`,
      () => `o${o}-auditor`,
      () => `o${o}-admin`,
      () => `o${o}-client${c}`,
      () => `stranger${pick(1000)}`,
    ][pick(7)]!()
    const check = { resourceType: 'client', resourceId: `o${o}-c${c}`, permission: PERMISSIONS[pick(PERMISSIONS.length)]!, userId }
    const key = `${check.resourceId}|${check.permission}|${userId}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push(check)
  }
  return out
}
