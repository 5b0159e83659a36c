/**
 * Domain events as a service: validate (parseEvent), apply once (idempotency store), translate
 * into one atomic write, recorded in the audit trail. Used by POST /v1/events and by the Redis
 * Streams consumer: a GatewayError with a 4xx status is a permanent refusal, anything else
 * transient. src/gateway.ts builds it; the events plugin only decorates `app.events` with it.
 */
import type { EnginePort, RelationshipUpdate } from '../../../engine/port.js'
import type { AuditMeta } from '../../audit/auditor.js'
import { DeletesJudged } from '../../audit/audited-engine.js'
import type { SchemaIndex } from '../../schema/subject-uses.js'
import { fromEngineError } from '../../wire/engine-errors.js'
import { parseEvent } from '../contract/parse.js'
import type { DomainEvent } from '../contract/schemas.js'
import { organizationOf } from '../translate/write-plan.js'
import { translateEvent, type ApplyDeps } from './apply.js'
import { batchKeysFrom, batchLookups, batchStop, outcomeOf, type EventResult, type Outcome } from './batch.js'
import { applyOnce, payloadFingerprint, scopedKey, type IdempotencyStore } from './idempotency.js'
import { KeyedSerializer, lockKey } from './keyed-lock.js'
import { runOrdered } from './ordering.js'
import { WriteGroup } from './write-group.js'

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
   * `EVENTS_BATCH_CONCURRENCY`; ordering.ts). The first refusal stops the batch: events not yet
   * started after it are not; those already under way finish. The error's details list every
   * event applied, its index and the ids not applied (batch.ts, `batchStop`). When the gateway
   * shuts down, the batch stops at the next event boundary the same way, with 503 GW_SHUTTING_DOWN.
   */
  applyBatch(raws: unknown[], options?: ApplyOptions): Promise<EventResult[]>
  /**
   * The keys that order raw events the way `applyBatch` orders a batch (ordering.ts): one list
   * per event, `undefined` for a barrier (also an event that does not validate, which changes
   * nothing). The stream consumer orders each read with it. Rejects when the engine cannot be
   * read (then keep strict order).
   */
  order(raws: unknown[]): Promise<(string[] | undefined)[]>
  /** how many events of one batch may run at once (`EVENTS_BATCH_CONCURRENCY`) */
  readonly concurrency: number
  readonly store: IdempotencyStore
  /** aborted when the gateway starts closing: batches stop at the next event */
  readonly shutdown: AbortSignal
}

export interface EventsServiceDeps {
  /** the engine stack's top: plans read it, and a lone write goes through its audit layer */
  engine: EnginePort
  /** the stack below the audit layer: grouped writes go there, each event's part noted in its own capture */
  unaudited: EnginePort
  audit: {
    capture<T>(meta: AuditMeta, work: () => Promise<T>): Promise<T>
    note(updates: RelationshipUpdate[], token: string): Promise<void>
  }
  /** refuses while an import runs (503, retried later) */
  gate: { assertOpen(): void }
  schema: SchemaIndex
  clock: () => Date
  store: IdempotencyStore
  /** aborted when the gateway starts closing */
  shutdown: AbortSignal
  batchConcurrency: number
  /** counts events by source and outcome */
  count(source: string, outcome: Outcome, n?: number): void
}

export function createEventsService(d: EventsServiceDeps): EventsService {
  // the audit lists what changed: a plan's deletes "just in case" that removed nothing are left out
  const judged = new DeletesJudged(d.unaudited)
  const writes = new WriteGroup(judged, (updates, token) => d.audit.note(judged.changed(updates), token))
  const deps: ApplyDeps = { engine: d.engine, schema: d.schema, clock: d.clock, write: (u, p) => writes.write(u, p) }
  const serializer = new KeyedSerializer()
  const { store, shutdown, batchConcurrency, count } = d

  async function applyParsed(event: DomainEvent, { source = 'rest', keyName = 'anonymous', signal }: ApplyOptions = {}): Promise<EventResult> {
    try {
      // the stream consumer too: an import in progress refuses it (503, retried later)
      d.gate.assertOpen()
      const meta = { source, keyName, event: { id: event.id, type: event.type, actor: event.actor } }
      const apply = () => serializer.run(lockKey(event), () => d.audit.capture(meta, () => translateEvent(deps, event)))
      const delivery = await applyOnce(store, scopedKey(keyName, event.id), apply, {
        fingerprint: payloadFingerprint(event),
        signal: signal ? AbortSignal.any([signal, shutdown]) : shutdown,
      })
      count(source, delivery.status)
      return { id: event.id, ...delivery }
    } catch (err) {
      count(source, outcomeOf(err))
      throw err
    }
  }

  function parse(raw: unknown, prefix: string, source = 'rest'): DomainEvent {
    try {
      return parseEvent(raw, prefix)
    } catch (err) {
      count(source, 'invalid')
      throw err
    }
  }

  const apply = (raw: unknown, options: ApplyOptions = {}) => applyParsed(parse(raw, '', options.source), options)

  /** The keys of each event (batch.ts): the organizations the batch does not know are read, all at once. */
  async function batchKeys(events: DomainEvent[]): Promise<(string[] | undefined)[]> {
    const { known, toRead } = batchLookups(events)
    const read = new Map<string, string[]>()
    try {
      for (let i = 0; i < toRead.length; i += batchConcurrency) {
        const chunk = toRead.slice(i, i + batchConcurrency)
        const found = await Promise.all(chunk.map((o) => organizationOf(d.engine, o.slice(0, o.indexOf(':')), o.slice(o.indexOf(':') + 1))))
        chunk.forEach((o, j) => read.set(o, found[j] ? [found[j].subject.id] : []))
      }
    } catch (err) {
      throw fromEngineError(err)
    }
    return batchKeysFrom(events, known, read)
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
    await runOrdered(
      events.length,
      (i) => (concurrent ? keys[i] : undefined),
      batchConcurrency,
      async (i) => {
        // The event boundary: what is applied stays applied, the rest is named, not cut mid-way.
        if (i > stopAt || shutdown.aborted || options.signal?.aborted) return
        try {
          results[i] = await applyParsed(events[i]!, options)
        } catch (err) {
          errors[i] = err
          stopAt = Math.min(stopAt, i)
        }
      },
    )
    const stop = batchStop(events, results, errors)
    if (!stop) return results as EventResult[]
    if (stop.skipped !== undefined) count(options.source ?? 'rest', 'failed', stop.skipped)
    throw stop.error
  }

  return { apply, applyParsed, applyBatch, order, concurrency: batchConcurrency, store, shutdown }
}
