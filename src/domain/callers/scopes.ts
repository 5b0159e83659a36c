/**
 * Which scope an operation needs. Most routes need one scope whatever the body says; some
 * need more for some bodies or queries: an event without an actor skips the actor checks, so
 * only the platform may send one, a delete that names no object wipes a whole type, and a
 * read of an internal type shows the gateway's own state.
 */
import type { Scope } from './api-keys.js'
import { isInternalType, typeOf } from '../schema/internal-types.js'

/**
 * What a route asks of its caller: `public` (no key), `any-key` (any valid key), a scope,
 * or several scopes of which the key needs one.
 */
export type RouteScope = 'public' | 'any-key' | Scope | readonly Scope[]

/** a further scope the body of a request needs, and why (told to the caller in the 403) */
export interface BodyScopeNeed {
  scope: Scope
  why: string
}

/** a body's (or query's) further need, with a sentence for the API document */
export type BodyScope = ((body: unknown) => BodyScopeNeed | undefined) & { doc: string }

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * POST /v1/events: an event with an actor needs `events` (or `platform`); one without needs
 * `platform`. The body is not validated yet (parseEvent does that after), so anything that
 * is not an event is left to validation: it answers 400 and writes nothing.
 */
export const eventsBodyScope: BodyScope = Object.assign(
  (body: unknown): BodyScopeNeed | undefined => {
    const batch = isRecord(body) && Array.isArray(body.events) && !('type' in body)
    const events: unknown[] = batch ? (body as { events: unknown[] }).events : [body]
    const index = events.findIndex((e) => isRecord(e) && typeof e.type === 'string' && (e.actor === undefined || e.actor === null || e.actor === ''))
    if (index < 0) return undefined
    return { scope: 'platform', why: batch ? `events[${index}] has no actor` : 'the event has no actor' }
  },
  { doc: 'An event without an actor needs `platform` (which also covers events with one).' },
)

/**
 * DELETE /v1/relationships: a filter that names no object (no resource id, no subject)
 * deletes by type, optionally by relation, across every object of the type: `admin` only.
 */
export const deleteBodyScope: BodyScope = Object.assign(
  (body: unknown): BodyScopeNeed | undefined => {
    const filter = isRecord(body) && isRecord(body.filter) ? body.filter : undefined
    if (!filter) return undefined
    const namesAnObject = Boolean(filter.resourceId || filter.resource || filter.subject)
    return namesAnObject ? undefined : { scope: 'admin', why: 'a delete by type alone (no resource id, resource or subject)' }
  },
  { doc: 'A filter that names no object (no resourceId, resource or subject) also needs `admin`.' },
)

/**
 * GET /v1/relationships: a read whose resource or subject is of a type the schema marks
 * internal (the gateway's write guards) needs `admin`. The query is validated by then.
 */
export const relationshipsReadScope: BodyScope = Object.assign(
  (query: unknown): BodyScopeNeed | undefined => {
    if (!isRecord(query)) return undefined
    const types = [query.resourceType, query.resource, query.subject].filter((v): v is string => typeof v === 'string')
    const internal = types.map((v) => (v.includes(':') ? typeOf(v) : v)).find(isInternalType)
    return internal ? { scope: 'admin', why: `a read of ${internal}, a type the schema marks internal` } : undefined
  },
  { doc: 'A read whose resource or subject is of an internal type (`internal_*`) also needs `admin`.' },
)

/** the scopes of a route, for documents and messages */
export function scopesOf(route: RouteScope): Scope[] {
  if (route === 'public' || route === 'any-key') return []
  return typeof route === 'string' ? [route] : [...route]
}
