/**
 * Helpers for the event suites: build events, send them over HTTP, ask checks, and snapshot
 * every relationship to prove a refused event changed nothing.
 */
import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import type { TestApp } from './app.js'
import { formatRelationship } from '../../src/domain/wire/refs.js'

export const TYPES = ['user', 'organization', 'program', 'section', 'client', 'group', 'course', 'certificate']

export function ev(type: string, data: Record<string, unknown>, actor?: string) {
  return { id: `evt-${randomUUID()}`, type, data, ...(actor ? { actor } : {}) }
}

export async function post(app: TestApp, payload: unknown) {
  return app.inject({ method: 'POST', url: '/v1/events', payload: payload as object })
}

/** Sends events as one batch and fails the test unless all are applied. */
export async function apply(t: Test, app: TestApp, ...events: object[]) {
  const res = await post(app, { events })
  t.equal(
    res.statusCode,
    200,
    `applied ${events.length} event(s) from ${(events[0] as { type: string }).type}${res.statusCode === 200 ? '' : ` -> ${res.body}`}`,
  )
  return res.json() as { results: { id: string; status: string; writtenAt: string }[] }
}

/** Sends one event expecting a refusal with this status and code; returns the body. */
export async function refused(t: Test, app: TestApp, event: object, status: number, code: string) {
  const res = await post(app, event)
  t.equal(res.statusCode, status, `${code}: ${res.body}`)
  t.equal(res.json().code, code)
  return res.json() as { message: string; details?: Record<string, unknown>; field?: string }
}

export async function can(app: TestApp, resource: string, permission: string, subject: string): Promise<boolean> {
  const res = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource, permission, subject } })
  if (res.statusCode !== 200) throw new Error(`check ${resource} ${permission} ${subject}: ${res.body}`)
  return res.json().allowed as boolean
}

/** Every relationship in the engine, sorted: compare before and after to prove nothing changed. */
export async function snapshot(app: TestApp): Promise<string[]> {
  const all: string[] = []
  for (const resourceType of TYPES) {
    const page = await app.engine.readRelationships({ resourceType }, {}, { mode: 'fully_consistent' })
    all.push(...page.relationships.map(formatRelationship))
  }
  return all.sort()
}

/** An organization with an owner, an admin, two coaches and an author. */
export async function seedOrg(t: Test, app: TestApp, org = 'acme') {
  await apply(
    t,
    app,
    ev('organization.created', { organizationId: org, ownerId: 'olivia' }),
    ev('organization.member_added', { organizationId: org, userId: 'adam', role: 'admin' }),
    ev('organization.member_added', { organizationId: org, userId: 'rob', role: 'coach' }),
    ev('organization.member_added', { organizationId: org, userId: 'cara', role: 'coach' }),
    ev('organization.member_added', { organizationId: org, userId: 'alex', role: 'author' }),
  )
}
