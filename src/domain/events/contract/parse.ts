/**
 * Validation of incoming events as a plain function, so the REST route and the stream consumer
 * judge events the same way. A bad event is a 400 naming the field (`events.0.data.clientId`);
 * nothing about it reaches the engine.
 */
import { Value } from 'typebox/value'
import { GatewayError } from '../../wire/errors.js'
import type { ErrorCode } from '../../wire/error-codes.js'
import { EVENT_SCHEMAS, type DomainEvent, type EventType } from './schemas.js'

export const INVALID_EVENT = 'GW_INVALID_EVENT' as const
export const UNKNOWN_EVENT_TYPE = 'GW_UNKNOWN_EVENT_TYPE' as const

const invalid = (field: string, message: string, code: ErrorCode = INVALID_EVENT) => new GatewayError(code, 400, `${field}: ${message}`, field)

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

export function isEventType(type: string): type is EventType {
  return Object.prototype.hasOwnProperty.call(EVENT_SCHEMAS, type)
}

interface SchemaError {
  keyword: string
  instancePath: string
  message: string
  params: Record<string, unknown>
}

/** The field an error is about: a missing or extra property is named itself, not its parent. */
function describe(error: SchemaError, prefix: string): GatewayError {
  const path = error.instancePath.replace(/^\//, '').split('/').filter(Boolean)
  const required = error.params.requiredProperties as string[] | undefined
  const extra = error.params.additionalProperties as string[] | undefined
  if (required?.[0]) return invalid(prefix + [...path, required[0]].join('.'), 'is required')
  if (extra?.[0]) return invalid(prefix + [...path, extra[0]].join('.'), 'is not allowed here')
  const allowed = error.keyword === 'enum' ? `: one of ${JSON.stringify(error.params.allowedValues ?? [])}` : ''
  return invalid(prefix + (path.join('.') || 'event'), `${error.message}${allowed}`)
}

/**
 * Checks one raw event against the schema of its type and returns it typed. `prefix` names
 * where the event sits in the request (e.g. `events.3.`) so errors point at the field.
 */
export function parseEvent(raw: unknown, prefix = ''): DomainEvent {
  if (!isObject(raw)) throw invalid(prefix.replace(/\.$/, '') || 'event', 'must be an event object {id, type, data}')
  const type = raw.type
  if (typeof type !== 'string') throw invalid(`${prefix}type`, 'is required and must be a string')
  if (!isEventType(type)) {
    throw invalid(`${prefix}type`, `unknown event type ${JSON.stringify(type)} (the catalogue is in docs/events.md)`, UNKNOWN_EVENT_TYPE)
  }
  const schema = EVENT_SCHEMAS[type]
  if (Value.Check(schema, raw)) return raw as DomainEvent
  const errors = Value.Errors(schema, raw) as unknown as SchemaError[]
  // `boolean` errors repeat an additionalProperties error without naming the property.
  const first = errors.find((e) => e.keyword !== 'boolean') ?? errors[0]
  throw first ? describe(first, prefix) : invalid(prefix.replace(/\.$/, '') || 'event', 'is not a valid event')
}
