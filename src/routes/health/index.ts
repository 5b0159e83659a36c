import { ProbeFinding } from '../../domain/errors.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'

export interface ReadinessProbe {
  name: string
  check: () => Promise<void>
  /** a failure is reported (status `degraded`) but keeps the replica ready: checks still work */
  optional?: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    /** stores that must answer for /readyz to pass; plugins add theirs */
    readinessProbes: ReadinessProbe[]
  }
}

const Status = Type.Object({
  status: Type.String(),
  checks: Type.Optional(Type.Record(Type.String(), Type.Object({ ok: Type.Boolean(), error: Type.Optional(Type.String()) }))),
})

// The door refuses for health routes too: a request line or headers too slow or too large.
const doorRefusals = { 408: Type.Ref('ErrorResponse'), 431: Type.Ref('ErrorResponse') }

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'The process is alive', security: [], response: { 200: Status, ...doorRefusals } } },
    async () => ({ status: 'ok' }),
  )

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'The engine and every required store answer',
        security: [],
        response: { 200: Status, 503: Status, ...doorRefusals },
      },
    },
    async (_req, reply) => {
      const probes = [{ name: 'engine', check: () => app.engine.ping() }, ...app.readinessProbes]
      const results = await Promise.all(
        probes.map(async (p) => {
          try {
            await p.check()
            return [p.name, { ok: true }, p] as const
          } catch (err) {
            // The cause (addresses, driver text) is for operators: logged, not shown to probes.
            // A finding the gateway wrote itself (a setting that loses data) says what to fix.
            app.log.warn({ err, probe: p.name }, 'readiness probe failed')
            return [p.name, { ok: false, error: err instanceof ProbeFinding ? err.message : 'unreachable' }, p] as const
          }
        }),
      )
      const checks = Object.fromEntries(results.map(([name, r]) => [name, r]))
      const ready = results.every(([, r, p]) => r.ok || (p as ReadinessProbe).optional)
      const status = !ready ? 'unavailable' : results.every(([, r]) => r.ok) ? 'ready' : 'degraded'
      return reply.code(ready ? 200 : 503).send({ status, checks })
    },
  )
}

export default routes
