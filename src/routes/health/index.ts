import { ProbeFinding } from '../../domain/wire/errors.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import client from 'prom-client'

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
  const readiness = () => {
    const probes = [{ name: 'engine', check: () => app.engine.ping() }, ...app.readinessProbes]
    return Promise.all(
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
  }
  // what /readyz would answer, at each scrape: the dashboard's readiness and its alert
  new client.Gauge({
    name: 'trellis_ready',
    help: 'readiness by check (engine, redis): 1 answers, 0 does not, as /readyz judges them',
    labelNames: ['check'],
    registers: [app.metrics.registry],
    async collect() {
      for (const [name, r] of await readiness()) this.set({ check: name }, r.ok ? 1 : 0)
    },
  })

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
      const results = await readiness()
      const checks = Object.fromEntries(results.map(([name, r]) => [name, r]))
      const ready = results.every(([, r, p]) => r.ok || (p as ReadinessProbe).optional)
      const status = !ready ? 'unavailable' : results.every(([, r]) => r.ok) ? 'ready' : 'degraded'
      return reply.code(ready ? 200 : 503).send({ status, checks })
    },
  )
}

export default routes
