/**
 * The gateway's error catalogue: one stable upper-case code per failure, each with the HTTP
 * status it answers with. Plain classes (no Fastify) so the domain layer can throw them;
 * the app's single error handler turns them into `{statusCode, code, error, message}`.
 */
import type { ErrorCode } from './error-codes.js'

export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly statusCode: number,
    message: string,
    /** the request field at fault, for 400s */
    readonly field?: string,
    /** structured detail for callers (e.g. the clients that block a deactivation) */
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
    this.name = 'GatewayError'
  }
}

export class InvalidReferenceError extends GatewayError {
  constructor(field: string, value: string, expected: string) {
    super('GW_INVALID_REFERENCE', 400, `${field}: ${JSON.stringify(value)} is not ${expected}`, field)
  }
}

export const badRequest = (field: string, message: string, code: ErrorCode = 'GW_INVALID_ARGUMENT') =>
  new GatewayError(code, 400, `${field}: ${message}`, field)

export const conflict = (code: ErrorCode, message: string, details?: Record<string, unknown>) => new GatewayError(code, 409, message, undefined, details)

export const forbidden = (message: string, details?: Record<string, unknown>) => new GatewayError('GW_FORBIDDEN', 403, message, undefined, details)

/** 499 (as nginx logs it): the caller left before its answer; its engine work was cancelled */
export const clientClosed = () => new GatewayError('GW_CLIENT_CLOSED', 499, 'the caller closed its connection before the answer')

/** an answer with more entries than the gateway holds for one response; nothing was returned */
export const resultTooLarge = (limit: number, setting: string) =>
  new GatewayError(
    'GW_RESULT_TOO_LARGE',
    422,
    // only what exists: subjectType narrows nothing when every holder is a user, so it is not offered
    `the answer holds more than ${limit} subjects, more than one response carries (${setting}); raise ${setting}, ask about one subject (POST /v1/check or /v1/explain), or ask what changed in a window (GET /v1/access-changes)`,
    undefined,
    { limit, setting },
  )

export const engineUnavailable = (message = 'the authorization engine is unavailable') => new GatewayError('GW_ENGINE_UNAVAILABLE', 503, message)

/**
 * A readiness probe's own finding (e.g. a Redis that would lose data), written by the gateway:
 * /readyz shows its message, where a driver's error (addresses, internals) shows `unreachable`.
 */
export class ProbeFinding extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ProbeFinding'
  }
}
