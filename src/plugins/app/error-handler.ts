/**
 * The one error handler: every error leaves as `{statusCode, code, error, message}` with a
 * stable code. Validation failures name the field; 5xx causes are logged, not shown.
 */
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { GatewayError } from '../../domain/errors.js'
import { fromEngineError } from '../../domain/engine-errors.js'
import { EngineError } from '../../engine/port.js'

const CODE_BY_STATUS: Record<number, string> = {
  400: 'GW_VALIDATION',
  401: 'GW_UNAUTHORIZED',
  403: 'GW_FORBIDDEN',
  404: 'GW_NOT_FOUND',
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

async function errorHandlerPlugin(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof EngineError) {
      app.metrics?.engineErrors.inc({ kind: err.kind })
      err = fromEngineError(err) as unknown as FastifyError
    }
    if (err instanceof GatewayError) {
      if (err.statusCode >= 500) req.log.error({ err }, err.message)
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
      const first = err.validation[0]
      const detail = first?.message ?? 'is invalid'
      return reply.code(400).send({
        statusCode: 400,
        code: 'GW_VALIDATION',
        error: 'Bad Request',
        message: `${field}: ${detail}`,
        field,
      })
    }
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500
    if (status >= 500) {
      req.log.error({ err }, 'request failed')
      return reply.code(status).send({
        statusCode: status,
        code: CODE_BY_STATUS[status] ?? 'GW_INTERNAL',
        error: STATUS_CODES[status] ?? 'Error',
        message: status === 503 ? 'service unavailable' : 'internal error',
      })
    }
    return reply.code(status).send({
      statusCode: status,
      code: CODE_BY_STATUS[status] ?? (err.code?.startsWith('GW_') ? err.code : 'GW_BAD_REQUEST'),
      error: STATUS_CODES[status] ?? 'Error',
      message: err.message,
    })
  })

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({
      statusCode: 404,
      code: 'GW_NOT_FOUND',
      error: 'Not Found',
      message: `no route ${req.method} ${req.url.split('?')[0]}`,
    })
  })
}

export default fp(errorHandlerPlugin, { name: 'error-handler' })
