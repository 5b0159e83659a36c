/**
 * Schema validation errors worded for people. A choice between fixed values (a TypeBox union
 * of literals, or an enum) fails once per value it was compared with, and each says "must be
 * equal to constant": the caller learns nothing. Gathered, they say which values are allowed.
 * Used for request validation (Ajv, in the error handler) and settings (TypeBox, in config.ts);
 * both report errors with the same shape.
 */

export interface SchemaErrorLike {
  instancePath: string
  keyword?: string
  type?: number | string
  params?: unknown
  message?: string
}

/** The values a `const` or `enum` error allows (Ajv and TypeBox name them the same way). */
function allowedValues(e: SchemaErrorLike): unknown[] | undefined {
  const p = (e.params ?? {}) as { allowedValue?: unknown; allowedValues?: unknown[] }
  if ('allowedValue' in p) return [p.allowedValue]
  if (Array.isArray(p.allowedValues)) return p.allowedValues
  return undefined
}

/**
 * The message for the first error: "must be one of a, b, c" when every error about the same
 * place is a fixed value it did not equal (or the union that gathered them); the first error's
 * own message otherwise.
 */
export function describeFirstError(errors: readonly SchemaErrorLike[]): string {
  const first = errors[0]
  if (!first) return 'is invalid'
  const here = errors.filter((e) => e.instancePath === first.instancePath)
  const values: unknown[] = []
  for (const e of here) {
    const allowed = allowedValues(e)
    if (allowed) values.push(...allowed)
    else if (!/anyOf|oneOf|union/i.test(String(e.keyword ?? '')) && !/match a schema in anyOf|union/i.test(e.message ?? '')) {
      return first.message ?? 'is invalid'
    }
  }
  if (values.length === 0) return first.message ?? 'is invalid'
  return `must be one of ${[...new Set(values.map(String))].join(', ')}`
}
