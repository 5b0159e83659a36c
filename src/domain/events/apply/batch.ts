/**
 * The pure rules of a batch (service.ts runs them): which objects' organizations must be read
 * before a batch can be ordered, the keys each event then gets (ordering.ts), and what a batch
 * that stopped answers: every event applied, the first that was not, the ids to resend.
 */
import { GatewayError } from '../../wire/errors.js'
import type { DomainEvent } from '../contract/schemas.js'
import { createdInBatch, eventKeys, namedObjects } from './ordering.js'

export interface EventResult {
  id: string
  status: 'applied' | 'duplicate'
  writtenAt: string
}

export type Outcome = 'applied' | 'duplicate' | 'refused' | 'invalid' | 'failed'

/** how a failure is counted: a 400 is invalid, another 4xx a refusal, anything else transient */
export function outcomeOf(err: unknown): Outcome {
  if (!(err instanceof GatewayError)) return 'failed'
  if (err.statusCode === 400) return 'invalid'
  return err.statusCode < 500 ? 'refused' : 'failed'
}

export const shuttingDown = (done: EventResult[], notApplied: string[], failedIndex = done.length) =>
  new GatewayError(
    'GW_SHUTTING_DOWN',
    503,
    `the gateway is shutting down: ${done.length} event(s) were applied, ${notApplied.length} were not (details.notApplied); resend them`,
    undefined,
    { results: done, notApplied, failedIndex },
  )

/**
 * What a batch must read before it can be ordered. An object created by an earlier event of the
 * batch belongs to the organization that event names (`known[i]`, what event i may take from
 * earlier events: it waits for that creation, so if the creation is refused it is not started);
 * the organization of every other object is read (`toRead`, each object once).
 */
export function batchLookups(events: DomainEvent[]): { known: Map<string, Set<string>>[]; toRead: string[] } {
  const created = new Map<string, Set<string>>()
  const known: Map<string, Set<string>>[] = []
  const toRead = new Set<string>()
  for (const event of events) {
    // what earlier events of the batch say about this event's objects
    const mine = new Map<string, Set<string>>()
    for (const object of namedObjects(event)) {
      const orgs = created.get(object)
      if (orgs) mine.set(object, new Set(orgs))
      else toRead.add(object)
    }
    known.push(mine)
    for (const [object, orgs] of createdInBatch([event])) created.set(object, new Set([...(created.get(object) ?? []), ...orgs]))
  }
  return { known, toRead: [...toRead] }
}

/** Each event's keys (undefined: a barrier), from what the batch knows and the organizations read. */
export function batchKeysFrom(events: DomainEvent[], known: Map<string, Set<string>>[], read: Map<string, string[]>): (string[] | undefined)[] {
  return events.map((event, i) => eventKeys(event, (object) => known[i]?.get(object) ?? read.get(object) ?? []))
}

/** What a batch that stopped answers; undefined when every event was applied. */
export interface BatchStop {
  /** the error to throw: the first refusal, with the batch's details, or the shutdown's 503 */
  error: unknown
  /** a batch stopped by the shutdown: its events neither applied nor refused (not started), counted as failed */
  skipped?: number
}

/**
 * The first event not applied decides: its refusal (a GatewayError) is answered with every
 * event applied (`details.results`, in batch order: all before it, and any after it that were
 * already under way), its index (`details.failedIndex`) and the ids not applied
 * (`details.notApplied`); an event not started, or stopped by the shutdown, answers 503
 * GW_SHUTTING_DOWN the same way; any other error is thrown as it is.
 */
export function batchStop(events: DomainEvent[], results: (EventResult | undefined)[], errors: unknown[]): BatchStop | undefined {
  const first = events.findIndex((_, i) => !results[i])
  if (first < 0) return undefined
  const done = results.filter((r) => r !== undefined)
  const notApplied = events.filter((_, i) => !results[i]).map((e) => e.id)
  const err = errors[first]
  if (err === undefined || (err instanceof GatewayError && err.code === 'GW_SHUTTING_DOWN')) {
    const skipped = events.filter((_, i) => !results[i] && errors[i] === undefined).length
    return { error: shuttingDown(done, notApplied, first), skipped }
  }
  if (!(err instanceof GatewayError)) return { error: err }
  const after = done.length - first
  const also = after > 0 ? ` (${after} event(s) after it, already under way, were applied too: details.results)` : ''
  const message = `events.${first} (${events[first]!.id}) was not applied; ${first} before it were${also}: ${err.message}`
  return { error: new GatewayError(err.code, err.statusCode, message, err.field, { ...err.details, failedIndex: first, results: done, notApplied }) }
}
