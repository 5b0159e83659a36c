/**
 * Lookups: which resources a subject can reach, which subjects hold a permission.
 */
import { EngineError, type Consistency, type EnginePort } from '../../engine/port.js'
import { resolveConsistency, withGatewayContext, type ConsistencyInput } from '../wire/consistency.js'
import { fromEngineError } from '../wire/engine-errors.js'
import { CursorSigner } from './cursor.js'
import { resultTooLarge } from '../wire/errors.js'
import { parseObject, parseSubject } from '../wire/refs.js'

/** The engine's own ceiling on a lookup page; a lookup without a limit gets pages of this size. */
export const MAX_LOOKUP_LIMIT = 1000

/** What one read may cost: `signal` cancels it when the caller leaves; `maxSubjects` bounds an unpaged answer. */
export interface ReadLimits {
  signal?: AbortSignal
  /** the most subjects one answer carries (LOOKUP_SUBJECTS_MAX); SpiceDB cannot page LookupSubjects */
  maxSubjects?: number
}

/** Runs a subject lookup under `limits.maxSubjects`: more holders than that is a 422 naming the setting, never a cut list. */
export async function holdersAtMost<T>(limits: ReadLimits, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    if (err instanceof EngineError && err.kind === 'too_large' && limits.maxSubjects !== undefined) {
      throw resultTooLarge(limits.maxSubjects, 'LOOKUP_SUBJECTS_MAX')
    }
    throw err
  }
}

/**
 * One page of hits without repeats: SpiceDB reports a resource once per path that reaches it,
 * so a resource reachable twice would be listed twice. A definite answer beats a conditional one.
 */
function dedupe<T extends { id: string; permissionship: string }>(hits: T[]): T[] {
  const byId = new Map<string, T>()
  for (const h of hits) {
    const seen = byId.get(h.id)
    if (!seen || (seen.permissionship !== 'has_permission' && h.permissionship === 'has_permission')) byId.set(h.id, h)
  }
  return [...byId.values()]
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
  cursors: CursorSigner,
  signal?: AbortSignal,
  /** a snapshot of the past to read at (history.ts); `asOf` is part of the question a cursor is bound to */
  at?: Consistency,
  asOf?: string,
) {
  const subject = parseSubject(input.subject, 'subject')
  const limit = input.limit ?? MAX_LOOKUP_LIMIT
  // The cursor is bound to the question (paging another one with it is refused) and carries the
  // clock of the first page: SpiceDB accepts a cursor only with the arguments that made it, and
  // a paged listing is judged at one moment anyway.
  const question = CursorSigner.question([input.resourceType, input.permission, input.subject, input.context ?? {}, limit, ...(asOf ? [asOf] : [])])
  const page = input.cursor ? cursors.open(input.cursor, question, now) : undefined
  const clock = page?.n ?? now
  const context = withGatewayContext(input.context, clock)
  try {
    const res = await engine.lookupResources(
      { resourceType: input.resourceType, permission: input.permission, subject, context, limit, cursor: page?.c },
      at ?? resolveConsistency(input.consistency),
      { signal },
    )
    const resources = dedupe(res.resources)
    return res.cursor ? { resources, cursor: cursors.sign({ c: res.cursor, n: clock.toISOString(), q: question }) } : { resources }
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
  limits: ReadLimits = {},
  /** a snapshot of the past to read at (history.ts) */
  at?: Consistency,
) {
  const resource = parseObject(input.resource, 'resource')
  const context = withGatewayContext(input.context, now)
  try {
    const res = await holdersAtMost(limits, () =>
      engine.lookupSubjects({ resource, permission: input.permission, subjectType: input.subjectType, context }, at ?? resolveConsistency(input.consistency), {
        signal: limits.signal,
        maxResults: limits.maxSubjects,
      }),
    )
    return { subjects: res.subjects.sort((a, b) => a.id.localeCompare(b.id)) }
  } catch (err) {
    throw fromEngineError(err, { resource: 'resource', permission: 'permission', subject: 'subjectType', context: 'context' })
  }
}
