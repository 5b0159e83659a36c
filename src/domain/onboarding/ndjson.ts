/**
 * The export and import format: one JSON object per line. A relationship is
 * `{"relationship": "client:c1#primary@user:u1"}`, with `"caveat": {"name", "context"?}` when it
 * has one; the last line of an export is `{"exportedAt": zedtoken, "count": N}` (optional on
 * import, checked when present). A bad line is a 400 naming its number.
 */
import { StringDecoder } from 'node:string_decoder'
import type { Relationship } from '../../engine/port.js'
import { GatewayError } from '../wire/errors.js'
import { formatRelationship, parseRelationship } from '../wire/refs.js'
import type { SchemaIndex } from '../schema/subject-uses.js'

export const NDJSON = 'application/x-ndjson'

export interface EndLine {
  exportedAt: string
  count: number
}

export const badLine = (line: number, message: string) => new GatewayError('GW_INVALID_LINE', 400, `line ${line}: ${message}`, `line ${line}`, { line })

/** A relationship as one export line (with its newline). */
export function formatLine(r: Relationship): string {
  const relationship = formatRelationship({ ...r, caveat: undefined })
  if (!r.caveat) return `{"relationship":${JSON.stringify(relationship)}}\n`
  const caveat = r.caveat.context ? { name: r.caveat.name, context: r.caveat.context } : { name: r.caveat.name }
  return `{"relationship":${JSON.stringify(relationship)},"caveat":${JSON.stringify(caveat)}}\n`
}

export interface LineRules {
  schema: SchemaIndex
  /** a caveat context as it may be written (ContextRules.written) */
  caveatContext(name: string, context: Record<string, unknown> | undefined, field: string): void
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * One line: a relationship (checked against the schema in force: known type, relation and
 * subject type; no internal type, which only the gateway writes) or the end line.
 */
export function parseLine(text: string, line: number, rules: LineRules): Relationship | EndLine {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw badLine(line, 'is not JSON')
  }
  if (!isRecord(value)) throw badLine(line, 'is not a JSON object')
  if ('exportedAt' in value || 'count' in value) {
    if (typeof value.exportedAt !== 'string' || !Number.isSafeInteger(value.count)) throw badLine(line, 'an end line is {"exportedAt": zedtoken, "count": N}')
    return { exportedAt: value.exportedAt, count: value.count as number }
  }
  const extra = Object.keys(value).find((k) => k !== 'relationship' && k !== 'caveat')
  if (extra) throw badLine(line, `unknown field ${JSON.stringify(extra)}`)
  if (typeof value.relationship !== 'string') throw badLine(line, 'relationship must be a string resource#relation@subject')
  const r = parseRelationship(value.relationship, `line ${line}`)
  if (value.caveat !== undefined) {
    const c = value.caveat
    if (r.caveat) throw badLine(line, 'a caveat is given twice (in relationship and caveat)')
    if (!isRecord(c) || typeof c.name !== 'string' || !/^[a-z][a-z0-9_]{1,63}$/.test(c.name) || (c.context !== undefined && !isRecord(c.context))) {
      throw badLine(line, 'caveat must be {"name": string, "context"?: object}')
    }
    r.caveat = c.context ? { name: c.name, context: c.context as Record<string, unknown> } : { name: c.name }
  }
  for (const type of [r.resource.type, r.subject.type]) {
    if (type.startsWith('internal_')) throw badLine(line, `${type} is an internal type: only the gateway writes it`)
  }
  if (!rules.schema.relationsOf(r.resource.type).includes(r.relation)) {
    throw badLine(line, `the schema has no relation ${r.resource.type}#${r.relation}`)
  }
  if (!rules.schema.usesOf(r.subject.type).some((u) => u.resourceType === r.resource.type && u.relation === r.relation)) {
    throw badLine(line, `${r.resource.type}#${r.relation} does not take a ${r.subject.type} as subject`)
  }
  if (r.caveat) rules.caveatContext(r.caveat.name, r.caveat.context, `line ${line}.caveat`)
  return r
}

export const isEndLine = (v: Relationship | EndLine): v is EndLine => 'exportedAt' in v

/**
 * Splits a byte stream into lines (blank ones skipped), numbered from 1. The whole stream may
 * be at most `maxBytes` (413), one line at most `maxLineBytes` (400).
 */
export async function* readLines(source: AsyncIterable<Buffer | string>, maxBytes: number, maxLineBytes = 64 * 1024): AsyncGenerator<[string, number]> {
  let rest = ''
  let bytes = 0
  let line = 0
  // a character split across two chunks is joined, not turned into two replacement marks
  const decoder = new StringDecoder('utf8')
  for await (const chunk of source) {
    bytes += chunk.length
    if (bytes > maxBytes) throw new GatewayError('GW_PAYLOAD_TOO_LARGE', 413, `the body is larger than ${maxBytes} bytes (IMPORT_MAX_BYTES)`)
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk))
    let start = 0
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      line++
      const one = text.slice(start, nl).trim()
      start = nl + 1
      if (one) yield [one, line]
    }
    rest = text.slice(start)
    if (rest.length > maxLineBytes) throw badLine(line + 1, `is longer than ${maxLineBytes} bytes`)
  }
  if (rest.trim()) yield [rest.trim(), line + 1]
}
