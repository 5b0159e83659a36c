/**
 * What code generators (openapi-python-client, openapi-generator, openapi-typescript) need of
 * the API document beyond what the route schemas say: a discriminator on the event union, so
 * each event type is one model; the `retry-after` header on every 429 and 503, so clients
 * can back off as told; and the license as an SPDX identifier.
 */
import { EVENT_TYPES, eventSchemaName } from '../../domain/events/contract/schemas.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the generated document is untyped JSON
type Json = Record<string, any>

export const RETRY_AFTER_HEADER = {
  description: 'seconds to wait before asking again',
  schema: { type: 'integer', minimum: 0 },
}

export function forGenerators(doc: Json): Json {
  const schemas = doc.components?.schemas as Json | undefined
  const union = schemas?.DomainEvent
  if (union?.anyOf) {
    union.oneOf = union.anyOf
    delete union.anyOf
    union.discriminator = {
      propertyName: 'type',
      mapping: Object.fromEntries(EVENT_TYPES.map((t) => [t, `#/components/schemas/${eventSchemaName(t)}`])),
    }
  }
  for (const item of Object.values((doc.paths ?? {}) as Json)) {
    for (const op of Object.values(item as Json) as Json[]) {
      for (const [status, response] of Object.entries((op?.responses ?? {}) as Json)) {
        if (status === '429' || status === '503') response.headers = { ...response.headers, 'retry-after': RETRY_AFTER_HEADER }
      }
    }
  }
  return doc
}
