/**
 * Redis Streams ingestion as a plugin: when streams are enabled and Redis is configured, a
 * StreamConsumer feeds the stream's events to `app.events.apply` from the moment the app is
 * ready until it closes. Progress shows in /metrics.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import client from 'prom-client'
import { within } from '../../timing.js'
import { StreamConsumer, type StreamConsumerTuning } from '../../ingest/stream-consumer.js'
import type { GroupInfo } from '../../ingest/stream-protocol.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the running stream consumer; absent when stream ingestion is off */
    eventStream?: StreamConsumer
  }
}

export type EventStreamPluginOptions = StreamConsumerTuning

/** /metrics must answer even when Redis does not: a scrape waits this long at most. */
const GROUP_INFO_TIMEOUT_MS = 500

async function eventStreamPlugin(app: FastifyInstance, opts: EventStreamPluginOptions) {
  const { events } = app.config
  if (!events.streamEnabled) return
  if (!app.redis) {
    app.log.warn('EVENTS_STREAM_ENABLED is true but REDIS_URL is not set: stream ingestion is off')
    return
  }
  const registry = app.metrics.registry
  const outcomes = new client.Counter({
    name: 'trellis_stream_events_total',
    help: 'stream messages handled, by outcome (retry: a transient failure left pending for redelivery)',
    labelNames: ['outcome'],
    registers: [registry],
  })
  const deadLetters = new client.Counter({
    name: 'trellis_stream_dead_lettered_total',
    help: 'stream messages moved to the dead-letter stream, by error code (refused events show here)',
    labelNames: ['code'],
    registers: [registry],
  })

  const consumer = new StreamConsumer({
    ...opts,
    redis: app.redis,
    apply: (raw) => app.events.apply(raw, { source: 'stream' }),
    // A failure while the engine is down is the outage's, not the message's (not counted).
    // Asked fully consistent: SpiceDB answers ReadSchema (ping) from its caches with its
    // datastore down, so a Postgres restart looked like an engine that answers.
    engineUp:
      opts.engineUp ??
      (() =>
        app.engine.headToken().then(
          () => true,
          () => false,
        )),
    // each read is ordered as a REST batch is: events that cannot affect each other run together
    order: (raws) => app.events.order(raws),
    concurrency: app.events.concurrency,
    stream: events.stream,
    deadLetterStream: events.deadLetterStream,
    group: events.group,
    maxDeliveries: events.maxDeliveries,
    log: app.log,
    onOutcome: (report) => {
      outcomes.inc({ outcome: report.outcome })
      if (report.outcome === 'dead_lettered') deadLetters.inc({ code: report.code ?? 'GW_INTERNAL' })
      opts.onOutcome?.(report)
    },
  })

  let last: GroupInfo | undefined
  let inflight: Promise<void> | undefined
  const refresh = () =>
    (inflight ??= within(
      consumer.groupInfo().then((info) => void (last = info ?? last)),
      GROUP_INFO_TIMEOUT_MS,
      () => undefined,
    )
      .catch(() => undefined)
      .finally(() => (inflight = undefined)))
  new client.Gauge({
    name: 'trellis_stream_lag',
    help: 'entries of the stream not yet delivered to the consumer group (XINFO GROUPS lag)',
    registers: [registry],
    async collect() {
      await refresh()
      if (last?.lag !== null && last?.lag !== undefined) this.set(last.lag)
    },
  })
  new client.Gauge({
    name: 'trellis_stream_pending',
    help: 'messages delivered to the group and not yet acknowledged (in flight, retrying, or orphaned)',
    registers: [registry],
    async collect() {
      await refresh()
      if (last) this.set(last.pending)
    },
  })

  app.decorate('eventStream', consumer)
  app.addHook('onReady', async () => consumer.start())
  // preClose: stop reading before the engine and Redis plugins close what apply needs.
  app.addHook('preClose', async () => consumer.stop())
}

export default fp(eventStreamPlugin, { name: 'event-stream', dependencies: ['metrics', 'redis', 'events'] })
