/**
 * Domain events as a service, `app.events`: validate (parseEvent), apply once (idempotency
 * store), translate into one atomic write. Used by POST /v1/events and by the Redis Streams
 * consumer: a GatewayError with a 4xx status is a permanent refusal, anything else transient.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import client from 'prom-client'
import { GatewayError } from '../../domain/errors.js'
import { applyOnce, MemoryIdempotencyStore, payloadFingerprint, scopedKey, type IdempotencyStore } from '../../domain/idempotency.js'
import { translateEvent, type ApplyDeps } from '../../domain/events/apply.js'
import { parseEvent } from '../../domain/events/parse.js'
import { indexSchema } from '../../domain/events/schema-index.js'
import type { DomainEvent } from '../../domain/events/schemas.js'
import { KeyedSerializer, lockKey } from '../../domain/events/serialize.js'
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
   * applied in order, each its own atomic write. The first refusal stops the batch; the error's
   * details list the results of the events before it (applied, they stay applied) and its index.
   * When the gateway shuts down, the batch stops at the next event boundary the same way, with
   * 503 GW_SHUTTING_DOWN whose details also name the ids not applied (`details.notApplied`).
   */
  applyBatch(raws: unknown[], options?: ApplyOptions): Promise<EventResult[]>
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

export const shuttingDown = (done: EventResult[], notApplied: string[]) =>
  new GatewayError(
    'GW_SHUTTING_DOWN',
    503,
    `the gateway is shutting down: ${done.length} event(s) were applied, ${notApplied.length} were not (details.notApplied); resend them`,
    undefined,
    { results: done, notApplied, failedIndex: done.length },
  )

export function createEvents(app: FastifyInstance, store: IdempotencyStore, shutdown = new AbortController().signal): EventsService {
  const counter = new client.Counter({
    name: 'trellis_events_total',
    help: 'domain events handled, by source and outcome (failed: transient, may be retried)',
    labelNames: ['source', 'outcome'],
    registers: [app.metrics.registry],
  })
  const deps: ApplyDeps = { engine: app.engine, schema: indexSchema(app.schemaText), clock: app.clock }
  const serializer = new KeyedSerializer()

  async function applyParsed(event: DomainEvent, { source = 'rest', keyName = 'anonymous', signal }: ApplyOptions = {}): Promise<EventResult> {
    try {
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

  async function applyBatch(raws: unknown[], options: ApplyOptions = {}): Promise<EventResult[]> {
    const events = raws.map((raw, i) => parse(raw, `events.${i}.`, options.source))
    const results: EventResult[] = []
    for (const [i, event] of events.entries()) {
      // The event boundary: what is applied stays applied, the rest is named, not cut mid-way.
      if (shutdown.aborted || options.signal?.aborted) {
        counter.inc({ source: options.source ?? 'rest', outcome: 'failed' }, events.length - i)
        throw shuttingDown(results, events.slice(i).map((e) => e.id))
      }
      try {
        results.push(await applyParsed(event, options))
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err
        if (err.code === 'GW_SHUTTING_DOWN') throw shuttingDown(results, events.slice(i).map((e) => e.id))
        const message = `events.${i} (${event.id}) was not applied; ${results.length} before it were: ${err.message}`
        throw new GatewayError(err.code, err.statusCode, message, err.field, { ...err.details, failedIndex: i, results })
      }
    }
    return results
  }

  return { apply, applyParsed, applyBatch, store, shutdown }
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

export default fp(eventsPlugin, { name: 'events', dependencies: ['engine', 'metrics', 'shutdown', 'audit'] })
