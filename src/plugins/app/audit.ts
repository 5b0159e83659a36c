/**
 * The audit trail as `app.audit`, and the past read through it as `app.history`: every applied
 * write is recorded once, with the door it came through. The gateway built both (src/gateway.ts),
 * its audit layer at the top of the engine stack, so no write escapes; doors that know more say
 * so with `capture`. Durable in a Redis stream when REDIS_URL is set; a bounded ring in memory
 * otherwise.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { AuditService } from '../../gateway.js'
import type { History } from '../../domain/questions/history.js'

declare module 'fastify' {
  interface FastifyInstance {
    audit: AuditService
    /** the past, read through the trail's tokens (asOf, access changes) */
    history: History
  }
}

async function auditPlugin(app: FastifyInstance) {
  app.decorate('audit', app.gateway.audit)
  app.decorate('history', app.gateway.history)
  if (!app.audit.durable) app.log.warn('REDIS_URL is not set: the audit trail is kept in this process only (bounded, lost on restart)')
}

export default fp(auditPlugin, { name: 'audit', dependencies: ['gateway'] })
