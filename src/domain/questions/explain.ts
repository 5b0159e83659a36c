/**
 * Why a check answers what it does. The answer itself comes from a traced check; the paths
 * that grant it come from the fully expanded tree (SpiceDB's trace stops at the first path it
 * finds, an auditor wants all of them); when nothing grants it, the trace lists what was tried.
 */
import type { Consistency, EnginePort } from '../../engine/port.js'
import { triedLeaves, type Attempt } from './explain-tried.js'
import { outcome, toCheckItem, type CheckInput } from './check.js'
import { fromEngineError } from '../wire/engine-errors.js'
import { expandFully, pathsBySubject } from './expand.js'
import { formatObject, formatSubject } from '../wire/refs.js'
import { resolveConsistency, type ConsistencyInput } from '../wire/consistency.js'
import type { SchemaArrows } from '../schema/arrows.js'

export type { Attempt }

export interface Explanation {
  resource: string
  permission: string
  subject: string
  allowed: boolean
  permissionship: string
  checkedAt: string
  paths: string[][]
  tried: Attempt[]
  missingContext?: string[]
  /** when not allowed: the relations the subject does hold on the object, directly */
  holds?: string[]
  /** when not allowed: the permission's expression in the schema (what would grant it) */
  grantedBy?: string
}

const FIELDS = { resource: 'resource', permission: 'permission', subject: 'subject', context: 'context' }

export async function explain(
  engine: EnginePort,
  input: CheckInput & { consistency?: ConsistencyInput },
  now: Date,
  arrows?: SchemaArrows,
  signal?: AbortSignal,
  /** a snapshot of the past to read at (history.ts) */
  at?: Consistency,
): Promise<Explanation> {
  const item = toCheckItem(input, now)
  const consistency: Consistency = at ?? resolveConsistency(input.consistency)
  try {
    const traced = await engine.checkWithTrace(item, consistency, { signal })
    if (traced.result.error) throw traced.result.error
    const answer = { ...outcome(traced.result), checkedAt: traced.checkedAt }
    const pinned: Consistency = at ?? { mode: 'at_least_as_fresh', token: traced.checkedAt }
    let paths: string[][] = []
    if (answer.permissionship !== 'no_permission') {
      const { tree } = await expandFully(engine, item.resource, item.permission, pinned, { arrows, signal })
      paths = pathsBySubject(tree).get(formatSubject(item.subject)) ?? []
    }
    const out: Explanation = {
      resource: formatObject(item.resource),
      permission: item.permission,
      subject: formatSubject(item.subject),
      allowed: answer.allowed,
      permissionship: answer.permissionship,
      checkedAt: answer.checkedAt,
      paths,
      tried: await triedLeaves(traced.trace, { engine, arrows, at: pinned, signal }),
    }
    if (answer.missingContext) out.missingContext = answer.missingContext
    if (!answer.allowed) {
      // what the person does hold here, and what would grant it: "Rob holds view_only; coach needs ..."
      const held = await engine.readRelationships(
        { resourceType: item.resource.type, resourceId: item.resource.id, subject: item.subject },
        { limit: 100 },
        pinned,
        { signal },
      )
      out.holds = [...new Set(held.relationships.map((r) => r.relation))].sort()
      const expression = arrows?.expressionOf(item.resource.type, item.permission)
      if (expression) out.grantedBy = expression
    }
    return out
  } catch (err) {
    throw fromEngineError(err, FIELDS)
  }
}
