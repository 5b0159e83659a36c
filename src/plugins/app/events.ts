/**
 * Domain events as `app.events` (src/domain/events/apply/service.ts, built by src/gateway.ts):
 * POST /v1/events and the Redis Streams consumer apply events through it. A running batch
 * answers with what it applied when the app closes (preClose), instead of being cut.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { idempotencyWarnings } from '../../gateway.js'
import type { EventsService } from '../../domain/events/apply/service.js'

declare module 'fastify' {
  interface FastifyInstance {
    events: EventsService
  }
}

async function eventsPlugin(app: FastifyInstance) {
  for (const warning of idempotencyWarnings(app.config, app.gateway.events)) app.log.warn(warning)
  app.decorate('events', app.gateway.events)
}

export default fp(eventsPlugin, { name: 'events', dependencies: ['gateway', 'audit', 'import-gate'] })
