/**
 * "Who can see this, and why": everyone who holds a permission on an object and every path
 * by which they hold it. Who holds it comes from LookupSubjects (the same evaluation as a
 * check, caveats included); the paths come from the fully expanded tree at the same revision.
 */
import type { Consistency, EnginePort } from '../../engine/port.js'
import { READ_YOUR_WRITES, withGatewayContext } from '../wire/consistency.js'
import { fromEngineError } from '../wire/engine-errors.js'
import { holdersAtMost, type ReadLimits } from './lookup.js'
import { expandFully, pathsBySubject } from './expand.js'
import { toCsv } from '../wire/csv.js'
import { formatObject, parseObject } from '../wire/refs.js'
import type { SchemaArrows } from '../schema/arrows.js'

export interface AccessReport {
  resource: string
  permission: string
  subjectType: string
  subjects: { subject: string; permissionship: string; via: string[][] }[]
  reportedAt: string
}

export async function accessReport(
  engine: EnginePort,
  input: { resource: string; permission: string; subjectType?: string },
  now: Date,
  arrows?: SchemaArrows,
  limits: ReadLimits = {},
  /** a snapshot of the past to read at (history.ts): both reads are of exactly that revision */
  at?: Consistency,
): Promise<AccessReport> {
  const { signal } = limits
  const resource = parseObject(input.resource, 'resource')
  const subjectType = input.subjectType ?? 'user'
  const fields = { resource: 'resource', permission: 'permission', subject: 'subjectType' }
  try {
    const first: Consistency = at ?? READ_YOUR_WRITES
    const { tree, expandedAt } = await expandFully(engine, resource, input.permission, first, { arrows, signal })
    const pinned: Consistency = at ?? (expandedAt ? { mode: 'at_least_as_fresh', token: expandedAt } : first)
    const holders = await holdersAtMost(limits, () =>
      engine.lookupSubjects({ resource, permission: input.permission, subjectType, context: withGatewayContext(undefined, now) }, pinned, {
        signal,
        maxResults: limits.maxSubjects,
      }),
    )
    const paths = pathsBySubject(tree)
    const subjects = holders.subjects
      .map((h) => {
        const subject = `${subjectType}:${h.id}`
        return { subject, permissionship: h.permissionship, via: paths.get(subject) ?? [] }
      })
      .sort((a, b) => a.subject.localeCompare(b.subject))
    return {
      resource: formatObject(resource),
      permission: input.permission,
      subjectType,
      subjects,
      reportedAt: holders.lookedUpAt ?? expandedAt,
    }
  } catch (err) {
    throw fromEngineError(err, fields)
  }
}

/** One row per path: subject, permissionship, path (steps joined with " > "). */
export function accessReportCsv(report: AccessReport): string {
  const rows = [['subject', 'permissionship', 'path']]
  for (const s of report.subjects) {
    if (s.via.length === 0) rows.push([s.subject, s.permissionship, ''])
    for (const p of s.via) rows.push([s.subject, s.permissionship, p.join(' > ')])
  }
  return toCsv(rows)
}
