/**
 * Caveat contexts checked before the engine sees them. A context goes into a protobuf Struct
 * and then into CEL: an infinite number, a structure nested thousands deep or a value of the
 * wrong type made SpiceDB fail the whole call with Go parse text or a stack trace, and one
 * caller's bad context failed every check merged with it. Here such input is a 400 naming the
 * field, at no engine cost. The rules come from the caveats in the schema in force.
 */
import { badRequest } from './errors.js'
import { RESERVED_CONTEXT } from './consistency.js'
import { readSchema, splitParams } from '../schema/model.js'

export const MAX_CONTEXT_DEPTH = 8

/** A caveat's parameters and their CEL types, e.g. release_time: {now: timestamp, release_at: timestamp}. */
export type CaveatParams = Map<string, string>

/** The caveats of the schema text and their parameters. */
export function parseCaveats(schemaText: string): Map<string, CaveatParams> {
  return new Map([...readSchema(schemaText).caveats].map(([name, caveat]) => [name, caveat.params]))
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
const DURATION = /^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/

/** Whether a JSON value is acceptable to SpiceDB for a caveat parameter of this CEL type. */
export function fitsType(type: string, v: unknown): boolean {
  const inner = /^(list|map)<(.+)>$/.exec(type)
  if (inner) {
    if (inner[1] === 'list') return Array.isArray(v) && v.every((x) => fitsType(inner[2]!, x))
    const valueType = splitParams(inner[2]!)[1]?.trim() ?? 'any'
    return isPlainObject(v) && Object.values(v).every((x) => fitsType(valueType, x))
  }
  switch (type) {
    case 'any':
      return true
    case 'bool':
      return typeof v === 'boolean'
    case 'string':
    case 'bytes':
      return typeof v === 'string'
    case 'int':
      return Number.isSafeInteger(v)
    case 'uint':
      return Number.isSafeInteger(v) && (v as number) >= 0
    case 'double':
      return typeof v === 'number' && Number.isFinite(v)
    case 'timestamp':
      return typeof v === 'string' && RFC3339.test(v) && !Number.isNaN(Date.parse(v))
    case 'duration':
      return typeof v === 'string' && DURATION.test(v)
    case 'ipaddress':
      return typeof v === 'string' && v.length <= 64 && /^[0-9a-fA-F:.]+$/.test(v)
    default:
      return false
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Shape limits that hold whatever the caveat: nesting (walked without recursion, so a context
 * nested 20,000 deep cannot exhaust the stack), finite numbers, then the serialized size.
 */
export function checkShape(context: Record<string, unknown>, field: string, maxBytes: number): void {
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: context, depth: 1, path: field }]
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!
    if (typeof v === 'number' && !Number.isFinite(v)) throw badRequest(path, 'must be a finite number')
    if (typeof v !== 'object' || v === null) continue
    if (depth > MAX_CONTEXT_DEPTH) throw badRequest(field, `is nested deeper than ${MAX_CONTEXT_DEPTH} levels`)
    for (const [k, child] of Object.entries(v)) stack.push({ v: child, depth: depth + 1, path: `${path}.${k}` })
  }
  if (Buffer.byteLength(JSON.stringify(context)) > maxBytes) throw badRequest(field, `is larger than ${maxBytes} bytes`)
}

function refuseReserved(context: Record<string, unknown>, field: string): void {
  for (const key of RESERVED_CONTEXT) {
    if (Object.prototype.hasOwnProperty.call(context, key)) {
      throw badRequest(`${field}.${key}`, 'is supplied by the gateway and cannot be passed', 'GW_RESERVED_CONTEXT')
    }
  }
}

export class ContextRules {
  /** every parameter callers may supply, with the types it has in any caveat */
  private readonly params = new Map<string, Set<string>>()

  constructor(
    private readonly caveats: Map<string, CaveatParams>,
    readonly maxBytes: number,
  ) {
    for (const params of caveats.values()) {
      for (const [name, type] of params) {
        if ((RESERVED_CONTEXT as readonly string[]).includes(name)) continue
        if (!this.params.has(name)) this.params.set(name, new Set())
        this.params.get(name)!.add(type)
      }
    }
  }

  static fromSchema(schemaText: string, maxBytes: number): ContextRules {
    return new ContextRules(parseCaveats(schemaText), maxBytes)
  }

  /** The context of a check or lookup: shape, never a reserved key, only known parameters of their type. */
  request(context: Record<string, unknown> | undefined, field = 'context'): void {
    if (context === undefined) return
    checkShape(context, field, this.maxBytes)
    refuseReserved(context, field)
    for (const [key, value] of Object.entries(context)) {
      const types = this.params.get(key)
      if (!types) throw badRequest(`${field}.${key}`, 'is not a parameter of any caveat in the schema', 'GW_UNKNOWN_CONTEXT')
      if (![...types].some((t) => fitsType(t, value))) {
        throw badRequest(`${field}.${key}`, `must be of type ${[...types].join(' or ')}`)
      }
    }
  }

  /**
   * The context written with a relationship's caveat. A key written here outranks the one a
   * check passes, so a written `now` would pin the clock forever: refused like any unknown key.
   */
  written(caveat: string, context: Record<string, unknown> | undefined, field: string): void {
    const params = this.caveats.get(caveat)
    if (!params) throw badRequest(field, `names no caveat of the schema: ${caveat}`, 'GW_UNKNOWN_CAVEAT')
    if (context === undefined) return
    checkShape(context, field, this.maxBytes)
    refuseReserved(context, field)
    for (const [key, value] of Object.entries(context)) {
      const type = params.get(key)
      if (!type) throw badRequest(`${field}.${key}`, `is not a parameter of caveat ${caveat}`, 'GW_UNKNOWN_CONTEXT')
      if (!fitsType(type, value)) throw badRequest(`${field}.${key}`, `must be of type ${type}`)
    }
  }
}
