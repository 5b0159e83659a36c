/**
 * Domain events as a service, `app.events`: validate (parseEvent), apply once (idempotency
 * store), translate into one atomic write. Used by POST /v1/events and by the Redis Streams
 * consumer: a GatewayError with a 4xx status is a permanent refusal, anything else transient.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import client from 'prom-client'
import { GatewayError } from '../../domain/wire/errors.js'
import { applyOnce, MemoryIdempotencyStore, payloadFingerprint, scopedKey, type IdempotencyStore } from '../../domain/events/apply/idempotency.js'
import { translateEvent, type ApplyDeps } from '../../domain/events/apply/apply.js'
import { parseEvent } from '../../domain/events/contract/parse.js'
import { indexSchema } from '../../domain/schema/subject-uses.js'
import type { DomainEvent } from '../../domain/events/contract/schemas.js'
import { KeyedSerializer, lockKey } from '../../domain/events/apply/keyed-lock.js'
import { createdInBatch, eventKeys, namedObjects, runOrdered } from '../../domain/events/apply/ordering.js'
import { organizationOf } from '../../domain/events/translate/write-plan.js'
import { fromEngineError } from '../../domain/wire/engine-errors.js'
import { WriteGroup } from '../../domain/events/apply/write-group.js'
import { deletesJudged, unaudited } from '../../domain/audit/auditor.js'
import { RedisIdempotencyStore } from '../../stores/redis-idempotency.js'
import { durableEngine } from '../../config.js'

export interface EventResult {
  id: string
  status: 'applied' | 'duplicate'
  writtenAt: string
}

export interface ApplyOptions {
  /** metrics label: where the event came from (default "rest") */
  source?: string
  /** the API key that sent the event (`request.caller?.keyName`): event ids are scoped to it; default "anonymous" */
  keyName?: string
  /** aborted: a batch stops at the next event boundary, a duplicate stops waiting (GW_SHUTTING_DOWN) */
  signal?: AbortSignal
}

export interface EventsService {
  /** validates and applies one raw event */
  apply(raw: unknown, options?: ApplyOptions): Promise<EventResult>
  /** applies an event already validated by parseEvent */
  applyParsed(event: DomainEvent, options?: ApplyOptions): Promise<EventResult>
  /**
   * A batch: every event is validated first (one bad event: 400, nothing written), then they are
   * applied as if in order, each its own atomic write: events that share an organization, a
   * person, an object or an id run one after the other, others run together (at most
   * `EVENTS_BATCH_CONCURRENCY`; batch.ts). The first refusal stops the batch: events not yet
   * started after it are not; those already under way finish. The error's details list every
   * event applied (`details.results`, in batch order: all of those before it, and any after it
   * that were under way), its index (`details.failedIndex`) and the ids not applied
   * (`details.notApplied`). When the gateway shuts down, the batch stops at the next event
   * boundary the same way, with 503 GW_SHUTTING_DOWN.
   */
  applyBatch(raws: unknown[], options?: ApplyOptions): Promise<EventResult[]>
  /**
   * The keys that order raw events the way `applyBatch` orders a batch (batch.ts): one list per
   * event, `undefined` for a barrier (also an event that does not validate, which changes
   * nothing). The stream consumer orders each read with it. Rejects when the engine cannot be
   * read (then keep strict order).
   */
  order(raws: unknown[]): Promise<(string[] | undefined)[]>
  /** how many events of one batch may run at once (`EVENTS_BATCH_CONCURRENCY`) */
  readonly concurrency: number
  readonly store: IdempotencyStore
  /** aborted when the app starts closing (preClose): batches stop at the next event */
  readonly shutdown: AbortSignal
}

declare module 'fastify' {
  interface FastifyInstance {
    events: EventsService
  }
}

export type Outcome = 'applied' | 'duplicate' | 'refused' | 'invalid' | 'failed'

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

export function createEvents(app: FastifyInstance, store: IdempotencyStore, shutdown = new AbortController().signal): EventsService {
  const counter = new client.Counter({
    name: 'trellis_events_total',
    help: 'domain events handled, by source and outcome (failed: transient, may be retried)',
    labelNames: ['source', 'outcome'],
    registers: [app.metrics.registry],
  })
  // Grouped calls go under the audit wrapper; each event's part is noted in its own capture.
  // the audit lists what changed: a plan's deletes "just in case" that removed nothing are left out
  const judged = deletesJudged(unaudited(app.engine))
  const writes = new WriteGroup(judged.engine, (updates, token) => app.audit.note(judged.changed(updates), token))
  const deps: ApplyDeps = { engine: app.engine, schema: indexSchema(app.schemaText), clock: app.clock, write: (u, p) => writes.write(u, p) }
  const serializer = new KeyedSerializer()
  // a config built by hand without it (tests) keeps strict order
  const batchConcurrency = app.config.events.batchConcurrency ?? 1

  async function applyParsed(event: DomainEvent, { source = 'rest', keyName = 'anonymous', signal }: ApplyOptions = {}): Promise<EventResult> {
    try {
      // the stream consumer too: an import in progress refuses it (503, retried later)
      app.importGate.assertOpen()
      const meta = { source, keyName, event: { id: event.id, type: event.type, actor: event.actor } }
      const apply = () => serializer.run(lockKey(event), () => app.audit.capture(meta, () => translateEvent(deps, event)))
      const delivery = await applyOnce(store, scopedKey(keyName, event.id), apply, {
        fingerprint: payloadFingerprint(event),
        signal: signal ? AbortSignal.any([signal, shutdown]) : shutdown,
      })
      counter.inc({ source, outcome: delivery.status })
      return { id: event.id, ...delivery }
    } catch (err) {
      counter.inc({ source, outcome: outcomeOf(err) })
      throw err
    }
  }

  function parse(raw: unknown, prefix: string, source = 'rest'): DomainEvent {
    try {
      return parseEvent(raw, prefix)
    } catch (err) {
      counter.inc({ source, outcome: 'invalid' })
      throw err
    }
  }

  const apply = (raw: unknown, options: ApplyOptions = {}) => applyParsed(parse(raw, '', options.source), options)

  /**
   * The keys of each event (batch.ts): objects created by an earlier event of the batch belong
   * to the organization it names (the event waits for that creation, so if it is refused the
   * event is not started); the organization of every other object is read, all at once.
   */
  async function batchKeys(events: DomainEvent[]): Promise<(string[] | undefined)[]> {
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
    const read = new Map<string, string[]>()
    const objects = [...toRead]
    try {
      for (let i = 0; i < objects.length; i += batchConcurrency) {
        const chunk = objects.slice(i, i + batchConcurrency)
        const found = await Promise.all(chunk.map((o) => organizationOf(app.engine, o.slice(0, o.indexOf(':')), o.slice(o.indexOf(':') + 1))))
        chunk.forEach((o, j) => read.set(o, found[j] ? [found[j].subject.id] : []))
      }
    } catch (err) {
      throw fromEngineError(err)
    }
    return events.map((event, i) => eventKeys(event, (object) => known[i]!.get(object) ?? read.get(object) ?? []))
  }

  async function order(raws: unknown[]): Promise<(string[] | undefined)[]> {
    const parsed = raws.map((raw) => {
      try {
        return parseEvent(raw, '')
      } catch {
        return undefined
      }
    })
    const valid = parsed.flatMap((event, i) => (event ? [{ event, i }] : []))
    const keys = await batchKeys(valid.map((v) => v.event))
    const out: (string[] | undefined)[] = raws.map(() => undefined)
    valid.forEach((v, j) => (out[v.i] = keys[j]))
    return out
  }

  async function applyBatch(raws: unknown[], options: ApplyOptions = {}): Promise<EventResult[]> {
    const events = raws.map((raw, i) => parse(raw, `events.${i}.`, options.source))
    const concurrent = batchConcurrency > 1 && events.length > 1
    const keys = concurrent ? await batchKeys(events) : []
    const results: (EventResult | undefined)[] = []
    const errors: unknown[] = []
    // the lowest index refused so far: later events not yet started are not started
    let stopAt = Infinity
    await runOrdered(events.length, (i) => (concurrent ? keys[i] : undefined), batchConcurrency, async (i) => {
      // The event boundary: what is applied stays applied, the rest is named, not cut mid-way.
      if (i > stopAt || shutdown.aborted || options.signal?.aborted) return
      try {
        results[i] = await applyParsed(events[i]!, options)
      } catch (err) {
        errors[i] = err
        stopAt = Math.min(stopAt, i)
      }
    })
    const first = events.findIndex((_, i) => !results[i])
    if (first < 0) return results as EventResult[]
    // Events after the refusal that had already started may have been applied: they are listed.
    const done = results.filter((r) => r !== undefined)
    const notApplied = events.filter((_, i) => !results[i]).map((e) => e.id)
    const err = errors[first]
    if (err === undefined || (err instanceof GatewayError && err.code === 'GW_SHUTTING_DOWN')) {
      const skipped = events.filter((_, i) => !results[i] && errors[i] === undefined).length
      counter.inc({ source: options.source ?? 'rest', outcome: 'failed' }, skipped)
      throw shuttingDown(done, notApplied, first)
    }
    if (!(err instanceof GatewayError)) throw err
    const after = done.length - first
    const also = after > 0 ? ` (${after} event(s) after it, already under way, were applied too: details.results)` : ''
    const message = `events.${first} (${events[first]!.id}) was not applied; ${first} before it were${also}: ${err.message}`
    throw new GatewayError(err.code, err.statusCode, message, err.field, { ...err.details, failedIndex: first, results: done, notApplied })
  }

  return { apply, applyParsed, applyBatch, order, concurrency: batchConcurrency, store, shutdown }
}

async function eventsPlugin(app: FastifyInstance) {
  const ttl = app.config.idempotencyTtlSeconds
  const store = app.redis ? new RedisIdempotencyStore(app.redis, { ttlSeconds: ttl }) : new MemoryIdempotencyStore(ttl)
  if (store.shared && !durableEngine(app.config.engine)) {
    // The reverse mismatch: after a restart the ids are remembered and the relationships are not.
    app.log.warn('REDIS_URL is set but the engine keeps relationships in memory: after a restart, resent events answer duplicate and are not re-applied')
  }
  if (!store.shared) {
    app.log.warn(
      'REDIS_URL is not set: event ids are kept in this process only, so duplicates are only caught within this process (not across restarts or replicas)',
    )
  }
  // A running batch answers with what it applied when the app closes, instead of being cut.
  app.decorate('events', createEvents(app, store, app.shuttingDown))
}

export default fp(eventsPlugin, { name: 'events', dependencies: ['engine', 'metrics', 'shutdown', 'audit', 'import-gate'] })
