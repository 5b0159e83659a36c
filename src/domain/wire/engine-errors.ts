/**
 * Maps engine failures to gateway errors in one place: SpiceDB's invalid-argument answers
 * become 400s naming the request field they concern; anything that means "the engine could
 * not answer" becomes 503.
 */
import { EngineError } from '../../engine/port.js'
import { GatewayError, badRequest, clientClosed, conflict, engineUnavailable } from './errors.js'

export interface FieldNames {
  /** the request field holding the resource (or resource type) */
  resource?: string
  permission?: string
  subject?: string
  relationship?: string
  context?: string
  /** the request field holding a ZedToken (default `consistency.token`) */
  token?: string
}

/** SpiceDB's answers about a ZedToken it cannot use ("invalid revision requested" and the like). */
const TOKEN_PROBLEM = /revision|zedtoken|zed token/

function fieldFor(message: string, fields: FieldNames): string {
  const m = message.toLowerCase()
  // checked first: the caller's token is at fault whatever fields the request also has
  if (TOKEN_PROBLEM.test(m)) return fields.token ?? 'consistency.token'
  if (/relation\/permission|permission .* not found|relation .* not found/.test(m) && fields.permission) return fields.permission
  if (/caveat|context/.test(m) && fields.context) return fields.context
  if (fields.relationship) return fields.relationship
  if (/subject/.test(m) && fields.subject) return fields.subject
  if (/object definition|definition .* not found|object type/.test(m)) return fields.resource ?? fields.subject ?? 'request'
  return fields.resource ?? fields.permission ?? 'request'
}

/**
 * Engine text fit for a caller's 400: the first line of SpiceDB's message (which names the
 * type, relation or caveat at fault), or a fixed sentence when it carries Go internals (stack
 * traces, source paths, addresses) or runs long. The full text goes to the log with the cause.
 */
export function cleanEngineMessage(message: string): string {
  const first = (message.split('\n')[0] ?? '').trim()
  if (!first || first.length > 240 || /goroutine|panic|\.go:\d|0x[0-9a-f]{6,}|runtime\.|github\.com\//i.test(first)) {
    return 'the authorization engine refused this input'
  }
  return first
}

/** A gateway error that remembers the engine failure behind it (logs and metrics read `cause`). */
function caused(err: GatewayError, cause: unknown): GatewayError {
  Object.defineProperty(err, 'cause', { value: cause, enumerable: false, configurable: true, writable: true })
  return err
}

export function fromEngineError(err: unknown, fields: FieldNames = {}): GatewayError {
  if (err instanceof GatewayError) return err
  if (!(err instanceof EngineError)) return caused(new GatewayError('GW_INTERNAL', 500, 'internal error'), err)
  // SpiceDB reports unknown types, relations and permissions as FAILED_PRECONDITION: they are
  // the caller's bad input, not a broken invariant.
  const schemaMiss = err.kind === 'failed_precondition' && /not found|does not exist|not allowed on|unknown|does not have type information/i.test(err.message)
  switch (schemaMiss ? 'invalid_argument' : err.kind) {
    case 'invalid_argument': {
      const field = fieldFor(err.message, fields)
      const token = TOKEN_PROBLEM.test(err.message.toLowerCase())
      const code = field === fields.permission && !token ? 'GW_UNKNOWN_PERMISSION' : 'GW_INVALID_ARGUMENT'
      const message = cleanEngineMessage(err.message)
      return caused(badRequest(field, token ? `is not a ZedToken this engine can read at (${message})` : message, code), err)
    }
    case 'failed_precondition':
      return caused(conflict('GW_PRECONDITION_FAILED', cleanEngineMessage(err.message)), err)
    case 'not_found':
      return caused(badRequest(fields.resource ?? 'request', cleanEngineMessage(err.message)), err)
    case 'cancelled':
      return caused(clientClosed(), err)
    case 'too_large':
      return caused(new GatewayError('GW_RESULT_TOO_LARGE', 422, err.message), err)
    case 'unsupported':
      // the gateway's own sentence about the engine's setup (engine/watch.ts), never engine text
      return caused(new GatewayError('GW_ENGINE_UNSUPPORTED', 501, err.message), err)
    default:
      // 5xx: the handler answers a fixed message and the request id; the engine text is logged.
      return caused(engineUnavailable(), err)
  }
}
