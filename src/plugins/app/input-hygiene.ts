/**
 * What the gateway accepts at the door, before any route runs: JSON bodies only (415 for
 * text, forms or compressed bodies, which would otherwise reach validation as strings or
 * bytes and answer a confusing 400), and protocol-level failures (a bad URL, a stalled body,
 * oversized headers) answered in the same error shape as everything else, with a `code`.
 * It also builds the caveat-context rules from the schema in force, for the routes to apply.
 */
import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ContextRules } from '../../domain/context-validation.js'
import { GatewayError } from '../../domain/errors.js'

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

async function inputHygiene(app: FastifyInstance) {
  app.decorate('contextRules', ContextRules.fromSchema(app.schemaText, app.config.contextMaxBytes))

  // Fastify parses text/plain by default; the API speaks JSON only, so text is a 415.
  app.removeContentTypeParser('text/plain')

  app.addHook('onRequest', async (req) => {
    const encoding = req.headers['content-encoding']
    if (encoding && encoding.trim().toLowerCase() !== 'identity') {
      throw new GatewayError('GW_UNSUPPORTED_MEDIA_TYPE', 415, 'content-encoding is not supported: send plain JSON')
    }
  })
}

export default fp(inputHygiene, { name: 'input-hygiene', dependencies: ['engine'] })
