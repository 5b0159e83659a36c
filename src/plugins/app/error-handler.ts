/**
 * The one error handler: every error leaves as `{statusCode, code, error, message}` with a
 * stable code. Validation failures name the field; 5xx causes are logged, not shown.
 */
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { GatewayError } from '../../domain/wire/errors.js'
import { fromEngineError } from '../../domain/wire/engine-errors.js'
import { describeFirstError } from '../../domain/wire/validation-messages.js'
import { EngineError } from '../../engine/port.js'

/** long enough for a reconnect or a failover to another replica, short enough not to stall callers */
export const RETRY_AFTER_503_SECONDS = 1

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

const CODE_BY_STATUS: Record<number, string> = {
  400: 'GW_VALIDATION',
  401: 'GW_UNAUTHORIZED',
  403: 'GW_FORBIDDEN',
  404: 'GW_NOT_FOUND',
  408: 'GW_REQUEST_TIMEOUT',
  413: 'GW_PAYLOAD_TOO_LARGE',
  415: 'GW_UNSUPPORTED_MEDIA_TYPE',
  429: 'GW_RATE_LIMITED',
  503: 'GW_ENGINE_UNAVAILABLE',
}

function validationField(err: FastifyError): string {
  const v = err.validation?.[0]
  if (!v) return err.validationContext ?? 'body'
  const ctx = err.validationContext ?? 'body'
  const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.')
  const missing = (v.params as { missingProperty?: string }).missingProperty
  const extra = (v.params as { additionalProperty?: string }).additionalProperty
  const leaf = missing ?? extra
  const parts = [ctx, path, leaf].filter(Boolean)
  return parts.join('.')
}

/** The only words a 5xx ever says: engine text, addresses and stack traces stay in the log. */
const FIXED_5XX: Record<number, string> = {
  500: 'internal error',
  502: 'bad gateway',
  503: 'the authorization engine or a required store is unavailable',
  504: 'the authorization engine did not answer in time',
}

/** 5xx codes whose messages the gateway writes itself, from nothing but the caller's own input. */
const AUTHORED_5XX = new Set(['GW_IMPORT_RUNNING', 'GW_WRITE_CONTENTION', 'GW_EVENT_IN_PROGRESS', 'GW_OVERLOADED', 'GW_SHUTTING_DOWN', 'GW_ENGINE_UNSUPPORTED'])

function message5xx(err: FastifyError, status: number): string {
  if (err instanceof GatewayError && AUTHORED_5XX.has(err.code)) return err.message
  return FIXED_5XX[status] ?? 'internal error'
}

async function errorHandlerPlugin(app: FastifyInstance) {
  const notFound = notFoundHandler(app)
  app.setErrorHandler((err: FastifyError, req, reply) => {
    // The body of a request to no route (an unknown method such as QUERY without a content type)
    // failed to parse: the answer is still that there is no such route. The gateway's own
    // refusals (401 without a key, 429) stand: an unknown caller learns nothing about routes.
    if (req.is404 && !(err instanceof GatewayError) && (!err.statusCode || err.statusCode < 500)) return notFound(req, reply)
    if (err instanceof EngineError) err = fromEngineError(err) as unknown as FastifyError
    const cause = (err as { cause?: unknown }).cause
    // a caller that left, or asked for more than one answer holds, is not an engine failure
    if (cause instanceof EngineError && cause.kind !== 'cancelled' && cause.kind !== 'too_large') app.metrics?.engineErrors.inc({ kind: cause.kind })

    const status = err instanceof GatewayError ? err.statusCode : err.validation ? 400 : err.statusCode && err.statusCode >= 400 ? err.statusCode : 500
    if (status >= 500) {
      req.log.error({ err, cause }, 'request failed')
      return reply.code(status).send({
        statusCode: status,
        code: err instanceof GatewayError ? err.code : (CODE_BY_STATUS[status] ?? 'GW_INTERNAL'),
        error: STATUS_CODES[status] ?? 'Error',
        message: `${message5xx(err, status)} (request ${req.id})`,
        requestId: req.id,
        // The gateway's own account of a batch (what was applied, what was not, where it
        // stopped) is built from event ids and write tokens, never engine text: callers need it
        // to resend the rest.
        ...(err instanceof GatewayError && err.details ? { details: err.details } : {}),
      })
    }
    if (err instanceof GatewayError) {
      if (cause) req.log.info({ cause }, err.message)
      return reply.code(err.statusCode).send({
        statusCode: err.statusCode,
        code: err.code,
        error: STATUS_CODES[err.statusCode] ?? 'Error',
        message: err.message,
        ...(err.field ? { field: err.field } : {}),
        ...(err.details ? { details: err.details } : {}),
      })
    }
    if (err.validation) {
      const field = validationField(err)
      const detail = describeFirstError(err.validation)
      return reply.code(400).send({
        statusCode: 400,
        code: 'GW_VALIDATION',
        error: 'Bad Request',
        message: `${field}: ${detail}`,
        field,
      })
    }
    return reply.code(status).send({
      statusCode: status,
      code: CODE_BY_STATUS[status] ?? (err.code?.startsWith('GW_') ? err.code : 'GW_BAD_REQUEST'),
      error: STATUS_CODES[status] ?? 'Error',
      message: err.message,
    })
  })

  app.setNotFoundHandler(notFound)

  // Every 503 (engine, store, shedding, shutdown, readiness) is worth asking again shortly:
  // clients and generated code back off by the header instead of guessing.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (reply.statusCode === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', String(RETRY_AFTER_503_SECONDS))
    return payload
  })
}

/** 404 for an unknown path; 405 with `Allow` for a known path asked with another method. */
function notFoundHandler(app: FastifyInstance) {
  return (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '/'
    // A known path asked with another method is 405 with the methods it has, not 404.
    const allowed = METHODS.filter((method) => app.hasRoute({ method, url: path }))
    if (allowed.length > 0) {
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send({ statusCode: 405, code: 'GW_METHOD_NOT_ALLOWED', error: 'Method Not Allowed', message: `${path} answers ${allowed.join(', ')}` })
    }
    reply.code(404).send({
      statusCode: 404,
      code: 'GW_NOT_FOUND',
      error: 'Not Found',
      message: `no route ${req.method} ${path}`,
    })
  }
}

export default fp(errorHandlerPlugin, { name: 'error-handler' })
