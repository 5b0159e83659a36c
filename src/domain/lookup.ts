/**
 * Lookups: which resources a subject can reach, which subjects hold a permission.
 */
import type { EnginePort } from '../engine/port.js'
import { resolveConsistency, withGatewayContext, type ConsistencyInput } from './consistency.js'
import { fromEngineError } from './engine-errors.js'
import { badRequest } from './errors.js'
import { parseObject, parseSubject } from './refs.js'

/**
 * The gateway's page cursor: SpiceDB's cursor plus the clock of the first page. SpiceDB only
 * accepts a cursor with the exact arguments of the call that made it, `now` included, and a
 * paged listing should be judged at one moment anyway.
 */
function encodeCursor(engineCursor: string, now: Date): string {
  return Buffer.from(JSON.stringify({ c: engineCursor, n: now.toISOString() })).toString('base64url')
}

function decodeCursor(cursor: string): { c: string; n: Date } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { c?: unknown; n?: unknown }
    const n = new Date(String(v.n))
    if (typeof v.c !== 'string' || Number.isNaN(n.getTime())) throw new Error('shape')
    return { c: v.c, n }
  } catch {
    throw badRequest('cursor', 'is not a cursor this gateway issued')
  }
}

export async function lookupResources(
  engine: EnginePort,
  input: {
    resourceType: string
    permission: string
    subject: string
    context?: Record<string, unknown>
    limit?: number
    cursor?: string
    consistency?: ConsistencyInput
  },
  now: Date,
) {
  const subject = parseSubject(input.subject, 'subject')
  const page = input.cursor ? decodeCursor(input.cursor) : undefined
  const clock = page?.n ?? now
  const context = withGatewayContext(input.context, clock)
  try {
    const res = await engine.lookupResources(
      { resourceType: input.resourceType, permission: input.permission, subject, context, limit: input.limit, cursor: page?.c },
      resolveConsistency(input.consistency),
    )
    return res.cursor ? { resources: res.resources, cursor: encodeCursor(res.cursor, clock) } : { resources: res.resources }
  } catch (err) {
    throw fromEngineError(err, { resource: 'resourceType', permission: 'permission', subject: 'subject', context: 'context' })
  }
}

export async function lookupSubjects(
  engine: EnginePort,
  input: {
    resource: string
    permission: string
    subjectType: string
    context?: Record<string, unknown>
    consistency?: ConsistencyInput
  },
  now: Date,
) {
  const resource = parseObject(input.resource, 'resource')
  const context = withGatewayContext(input.context, now)
  try {
    const res = await engine.lookupSubjects(
      { resource, permission: input.permission, subjectType: input.subjectType, context },
      resolveConsistency(input.consistency),
    )
    return { subjects: res.subjects.sort((a, b) => a.id.localeCompare(b.id)) }
  } catch (err) {
    throw fromEngineError(err, { resource: 'resource', permission: 'permission', subject: 'subjectType', context: 'context' })
  }
}
