/**
 * The import gate as `app.importGate` (src/domain/onboarding/import-gate.ts): the gateway built
 * it, since the events service asks it too; this plugin only names it for the routes.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { ImportGate } from '../../domain/onboarding/import-gate.js'

declare module 'fastify' {
  interface FastifyInstance {
    importGate: ImportGate
  }
}

async function importGate(app: FastifyInstance) {
  app.decorate('importGate', app.gateway.importGate)
}

export default fp(importGate, { name: 'import-gate', dependencies: ['gateway'] })
