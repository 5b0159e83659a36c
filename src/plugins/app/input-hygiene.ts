/**
 * What the gateway accepts at the door, before any route runs: JSON bodies only (415 for
 * text, forms or compressed bodies, which would otherwise reach validation as strings or
 * bytes and answer a confusing 400), and protocol-level failures (a bad URL, a stalled body,
 * oversized headers) answered in the same error shape as everything else, with a `code`.
 * It also builds the caveat-context rules from the schema in force and applies them, the same
 * rules, to every route whose body takes a context (`context`, or `items[].context`): no route
 * can forget them, as /v1/permissions once did (an infinite number reached the engine: 503).
 */
import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, preHandlerHookHandler } from 'fastify'
import { ContextRules } from '../../domain/wire/caveat-context.js'
import { GatewayError } from '../../domain/wire/errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** caveat-context rules (size, depth, parameters and their types) from the schema in force */
    contextRules: ContextRules
  }
}

const PROTOCOL_CODES: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'GW_REQUEST_TIMEOUT', 'the request was not received in time'],
  HPE_HEADER_OVERFLOW: [431, 'GW_HEADERS_TOO_LARGE', 'the request headers are too large'],
}

/**
 * Fastify's `clientErrorHandler`: errors Node raises on the socket before there is a request
 * (malformed request line, headers too large, request timeout). Written raw, in our shape.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, code, message] = PROTOCOL_CODES[err.code ?? ''] ?? [400, 'GW_BAD_REQUEST', 'the request is not valid HTTP']
  const body = JSON.stringify({ statusCode: status, code, error: STATUS_CODES[status], message })
  this.log.debug({ err }, 'client error')
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(err)
}

/** Fastify's `frameworkErrors`: a URL that does not decode, a route parameter over its limit. */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400
  reply.code(status).send({ statusCode: status, code: 'GW_BAD_URL', error: STATUS_CODES[status], message: 'the request URL is not valid' })
}

type Props = { properties?: Record<string, Props>; items?: Props }

/** Where a route's body schema takes a caveat context: at the top, in each item, both or neither. */
function contextPlaces(route: RouteOptions): { top: boolean; items: boolean } {
  const body = (route.schema as { body?: Props } | undefined)?.body
  return { top: Boolean(body?.properties?.context), items: Boolean(body?.properties?.items?.items?.properties?.context) }
}

type WithContext = { context?: Record<string, unknown>; items?: { context?: Record<string, unknown> }[] }

async function inputHygiene(app: FastifyInstance) {
  const rules = ContextRules.fromSchema(app.schemaText, app.config.contextMaxBytes)
  app.decorate('contextRules', rules)

  // After body validation (so the body has its schema's shape), before the handler or the engine.
  app.addHook('onRoute', (route) => {
    const { top, items } = contextPlaces(route)
    if (!top && !items) return
    const validate: preHandlerHookHandler = async (req) => {
      const body = req.body as WithContext
      if (top) rules.request(body.context)
      if (items) body.items?.forEach((item, i) => rules.request(item.context, `items.${i}.context`))
    }
    const own = route.preHandler
    route.preHandler = own === undefined ? [validate] : [validate, ...(Array.isArray(own) ? own : [own])]
  })

  // Fastify parses text/plain by default; the API speaks JSON only, so text is a 415.
  app.removeContentTypeParser('text/plain')

  app.addHook('onRequest', async (req) => {
    const encoding = req.headers['content-encoding']
    if (encoding && encoding.trim().toLowerCase() !== 'identity') {
      throw new GatewayError('GW_UNSUPPORTED_MEDIA_TYPE', 415, 'content-encoding is not supported: send plain JSON')
    }
  })
}

export default fp(inputHygiene, { name: 'input-hygiene', dependencies: ['gateway'] })
