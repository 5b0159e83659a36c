/**
 * Request ids: the caller's `x-request-id` when it sends a safe one, else one made here;
 * returned as `x-request-id` on every response, in every log line (pino's reqId) and sent to
 * SpiceDB with each engine call (engine/request-context.ts).
 *
 * A made id is a random prefix per process and a counter (`4f1c9a2e7b3d-17`): unique across
 * replicas and restarts (Fastify's default `req-1` repeats on each), and cheaper than a UUID
 * per request. A caller's id is kept only when it is 1-128 characters of [A-Za-z0-9._:-]: it
 * goes into logs and gRPC metadata, so no spaces, quotes or control characters.
 */
import fp from 'fastify-plugin'
import { AsyncResource } from 'node:async_hooks'
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { withRequestId } from '../../engine/request-context.js'

export const REQUEST_ID_HEADER = 'x-request-id'
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Fastify's genReqId: the caller's id when safe, else prefix-counter */
export function requestIdGenerator(prefix = randomBytes(6).toString('hex')): (req: IncomingMessage) => string {
  let counter = 0
  return (req) => {
    const given = req.headers[REQUEST_ID_HEADER]
    if (typeof given === 'string' && SAFE_ID.test(given)) return given
    return `${prefix}-${++counter}`
  }
}

/** the request's async context, entered again after body parsing (which runs in the socket's) */
const scopes = new WeakMap<FastifyRequest, AsyncResource>()

async function requestIdPlugin(app: FastifyInstance) {
  app.addHook('onRequest', (req, reply, done) => {
    // on the raw response, so streamed (hijacked) replies carry it too
    reply.raw.setHeader(REQUEST_ID_HEADER, req.id)
    withRequestId(req.id, () => {
      const scope = new AsyncResource('trellis-request')
      scopes.set(req, scope)
      scope.runInAsyncScope(done, undefined)
    })
  })
  app.addHook('preValidation', (req, _reply, done) => {
    const scope = scopes.get(req)
    if (scope) scope.runInAsyncScope(done, undefined)
    else done()
  })
}

export default fp(requestIdPlugin, { name: 'request-id' })
