/**
 * Maps engine failures to gateway errors in one place: SpiceDB's invalid-argument answers
 * become 400s naming the request field they concern; anything that means "the engine could
 * not answer" becomes 503.
 */
import { EngineError } from '../engine/port.js'
import { GatewayError, badRequest, conflict, engineUnavailable } from './errors.js'

export interface FieldNames {
  /** the request field holding the resource (or resource type) */
  resource?: string
  permission?: string
  subject?: string
  relationship?: string
  context?: string
}

function fieldFor(message: string, fields: FieldNames): string {
  const m = message.toLowerCase()
  if (/relation\/permission|permission .* not found|relation .* not found/.test(m) && fields.permission) return fields.permission
  if (/caveat|context/.test(m) && fields.context) return fields.context
  if (fields.relationship) return fields.relationship
  if (/subject/.test(m) && fields.subject) return fields.subject
  if (/object definition|definition .* not found|object type/.test(m)) return fields.resource ?? fields.subject ?? 'request'
  return fields.resource ?? fields.permission ?? 'request'
}

export function fromEngineError(err: unknown, fields: FieldNames = {}): GatewayError {
  if (err instanceof GatewayError) return err
  if (!(err instanceof EngineError)) return new GatewayError('GW_INTERNAL', 500, 'internal error')
  // SpiceDB reports unknown types, relations and permissions as FAILED_PRECONDITION: they are
  // the caller's bad input, not a broken invariant.
  const schemaMiss = err.kind === 'failed_precondition' && /not found|does not exist|not allowed on|unknown/i.test(err.message)
  switch (schemaMiss ? 'invalid_argument' : err.kind) {
    case 'invalid_argument': {
      const field = fieldFor(err.message, fields)
      const code = field === fields.permission ? 'GW_UNKNOWN_PERMISSION' : 'GW_INVALID_ARGUMENT'
      return badRequest(field, err.message, code)
    }
    case 'failed_precondition':
      return conflict('GW_PRECONDITION_FAILED', err.message)
    case 'not_found':
      return badRequest(fields.resource ?? 'request', err.message)
    case 'unavailable':
      return engineUnavailable(`the authorization engine is unavailable: ${err.message}`)
    default:
      return engineUnavailable(`the authorization engine failed: ${err.message}`)
  }
}
