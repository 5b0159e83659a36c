/**
 * The gateway as Fastify decorators: `app.gateway` (src/gateway.ts builds the engine stack and
 * the services), and `app.engine`, `app.clock`, `app.schemaText` for the routes. The engine is
 * created here (or injected by tests and benchmarks, which then close it themselves), given
 * the schema at start-up, and closed with the app. The audit, events and import-gate plugins
 * name the services this built; none of them wraps or replaces the engine.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createGateway, type Gateway } from '../../gateway.js'
import type { EnginePort } from '../../engine/port.js'
import type { Config } from '../../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway
    /** the engine stack's top (gateway.engine): every door reaches SpiceDB through it */
    engine: EnginePort
    /** the gateway's clock; section release times are judged against it */
    clock: () => Date
    schemaText: string
  }
}

export interface GatewayPluginOptions {
  config: Config
  engine?: EnginePort
  clock?: () => Date
}

async function gatewayPlugin(app: FastifyInstance, opts: GatewayPluginOptions) {
  if (app.hasDecorator('gateway')) throw new Error('the gateway plugin is already registered')
  const gateway = await createGateway({
    config: opts.config,
    engine: opts.engine,
    clock: opts.clock,
    redis: app.redis,
    metrics: app.metrics,
    tracer: app.tracer,
    log: app.log,
    shutdown: app.shuttingDown,
  })
  app.decorate('gateway', gateway)
  app.decorate('engine', gateway.engine)
  app.decorate('clock', gateway.clock)
  app.decorate('schemaText', gateway.schemaText)
  app.addHook('onClose', async () => gateway.close())
}

export default fp(gatewayPlugin, { name: 'gateway', dependencies: ['metrics', 'redis', 'shutdown'] })
