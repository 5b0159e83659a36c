/**
 * The gateway as one Fastify app. The server, the tests and the benchmarks all build it here.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { loadConfig, type Config } from './config.js'
import type { EnginePort } from './engine/port.js'
import type { FeedOptions } from './domain/audit/changes-feed.js'
import { ConsistencySchema, ErrorCodeSchema, ErrorResponse, PermissionshipSchema } from './schemas/common.js'
import { ExpandNode } from './schemas/tree.js'
import errorHandler from './plugins/app/error-handler.js'
import metrics from './plugins/app/metrics.js'
import tracing, { type TracingOptions } from './plugins/app/tracing.js'
import requestLog from './plugins/app/request-log.js'
import requestId, { requestIdGenerator } from './plugins/app/request-id.js'
import gateway from './plugins/app/gateway.js'
import inputHygiene, { clientErrorHandler, frameworkErrors } from './plugins/app/input-hygiene.js'
import auth from './plugins/app/auth.js'
import apiKeys from './plugins/app/api-keys.js'
import oidc, { type OidcOptions } from './plugins/app/oidc.js'
import rateLimit from './plugins/external/rate-limit.js'
import underPressure from './plugins/external/under-pressure.js'
import swagger from './plugins/external/swagger.js'
import redis from './plugins/external/redis.js'
import events from './plugins/app/events.js'
import shutdown from './plugins/app/shutdown.js'
import audit from './plugins/app/audit.js'
import eventStream, { type EventStreamPluginOptions } from './plugins/app/event-stream.js'
import eventRoutes from './routes/events/index.js'
import healthRoutes from './routes/health/index.js'
import checkRoutes from './routes/check/index.js'
import lookupRoutes from './routes/lookup/index.js'
import explainRoutes from './routes/explain/index.js'
import relationshipRoutes from './routes/relationships/index.js'
import schemaRoutes from './routes/schema/index.js'
import explorerRoutes from './routes/explorer/index.js'
import permissionRoutes from './routes/permissions/index.js'
import auditRoutes from './routes/audit/index.js'
import historyRoutes from './routes/history/index.js'
import changesRoutes from './routes/changes/index.js'
import onboardingRoutes from './routes/onboarding/index.js'
import importGate from './plugins/app/import-gate.js'

export interface BuildAppOptions {
  /** full configuration; defaults to the environment's */
  config?: Config
  /** overrides applied on top of `config` (tests use this) */
  overrides?: Partial<Config>
  /** an engine to use instead of creating one; the caller then owns closing it */
  engine?: EnginePort
  /** the gateway clock (tests move time to release sections) */
  clock?: () => Date
  logger?: FastifyServerOptions['logger']
  /** stream consumer knobs (shorter waits in tests, an outcome listener) */
  streamConsumer?: EventStreamPluginOptions
  /** changes feed knobs (heartbeat, slow-reader limits; tests shorten them) */
  changesFeed?: Partial<FeedOptions>
  /** OIDC verifier knobs (tests shorten the JWKS cooldown) */
  oidc?: Omit<OidcOptions, 'settings'>
  /** traces: a tracer provider of the caller's; otherwise from the OTEL_* variables (off by default) */
  tracing?: TracingOptions
  /** how often API_KEYS_FILE is looked at (ms; tests shorten it) */
  apiKeysPollMs?: number
}

export async function buildApp(options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const config: Config = { ...(options.config ?? loadConfig()), ...options.overrides }
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel },
    // one line per request instead of Fastify's two (plugins/app/request-log.ts)
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } },
    trustProxy: config.trustProxy,
    // A stalled body or an idle socket is closed rather than held open indefinitely.
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.connectionTimeoutMs,
    http: {
      headersTimeout: Math.min(config.requestTimeoutMs || 60_000, 60_000),
      // how often Node looks for requests past their timeout (its default is 30 s)
      connectionsCheckingInterval: 1000,
    },
    clientErrorHandler,
    frameworkErrors,
    // ids unique across replicas, or the caller's own (plugins/app/request-id.ts)
    requestIdHeader: false,
    genReqId: requestIdGenerator(),
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('config', config)
  app.decorate('readinessProbes', [])
  app.addSchema(ErrorCodeSchema)
  app.addSchema(ConsistencySchema)
  app.addSchema(PermissionshipSchema)
  app.addSchema(ErrorResponse)
  app.addSchema(ExpandNode)

  await app.register(requestId)
  await app.register(requestLog)
  await app.register(errorHandler)
  await app.register(shutdown)
  await app.register(metrics)
  await app.register(tracing, options.tracing ?? {})
  await app.register(swagger)
  await app.register(underPressure)
  // Redis first: the gateway keeps write tokens, the audit trail and event ids there when it is configured.
  await app.register(redis, { url: config.redisUrl })
  await app.register(gateway, { config, engine: options.engine, clock: options.clock })
  await app.register(inputHygiene)
  // authentication is decided per route, so it is in place before any /v1 route is added
  await app.register(apiKeys, { entries: config.apiKeys, file: config.apiKeysFile, pollMs: options.apiKeysPollMs })
  await app.register(oidc, { settings: config.oidc, ...options.oidc })
  await app.register(rateLimit, config.rateLimit)
  await app.register(auth, { metricsPublic: config.metricsPublic, reauthMs: config.feeds.reauthSeconds * 1000 })
  await app.register(audit)
  await app.register(importGate)
  await app.register(events)
  await app.register(eventStream, options.streamConsumer ?? {})

  await app.register(healthRoutes)
  await app.register(checkRoutes, { maxBulkItems: config.maxBulkItems })
  await app.register(eventRoutes, { maxBatch: config.maxBulkItems })
  await app.register(lookupRoutes)
  await app.register(explainRoutes)
  await app.register(relationshipRoutes, { maxBulkItems: config.maxBulkItems })
  await app.register(schemaRoutes)
  await app.register(explorerRoutes)
  await app.register(permissionRoutes)
  await app.register(auditRoutes)
  await app.register(historyRoutes)
  await app.register(changesRoutes, { feed: options.changesFeed, limits: config.feeds })
  await app.register(onboardingRoutes)

  await app.ready()
  return app
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}
