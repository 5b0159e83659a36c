/**
 * "Who gained or lost this permission, when, and by which write": the holders (LookupSubjects,
 * the same evaluation as a check) compared at consecutive recorded revisions. Comparing holders,
 * not the object's own relationships, is what makes a change that came through the organization
 * (an admin added, a role changed, a group joined) show, with the write that caused it.
 *
 * Cost is bounded: only writes that touch a type the permission can depend on are replayed
 * (reachable from the resource's type in the schema), at most `maxRevisions` of them per call
 * (HISTORY_MAX_REVISIONS); past that the answer carries a cursor where the next call resumes.
 * Each replayed revision costs one LookupSubjects; paths (an expand) only where someone changed.
 */
import type { Consistency, EnginePort } from '../../engine/port.js'
import type { AuditRecord } from './auditor.js'
import type { AuditScan } from './query.js'
import { withGatewayContext } from '../wire/consistency.js'
import { fromEngineError } from '../wire/engine-errors.js'
import { badRequest } from '../wire/errors.js'
import { expandFully, pathsBySubject } from '../questions/expand.js'
import { History, parseTime, staleRevision } from '../questions/history.js'
import { holdersAtMost, type ReadLimits } from '../questions/lookup.js'
import { formatObject, parseObject } from '../wire/refs.js'
import type { SchemaArrows } from '../schema/arrows.js'

export interface AccessChange {
  at: string
  subject: string
  change: 'gained' | 'lost'
  /** gained: the paths held by after the write; lost: the paths held by before it */
  via: string[][]
  write: { id: string; source: string; event?: string; type?: string; actor?: string; key?: string; token: string }
}

export interface AccessChanges {
  resource: string
  permission: string
  subjectType: string
  since: string
  until: string
  /** the revision the window starts from (the last recorded write at or before `since`) */
  from: string
  changes: AccessChange[]
  /** recorded writes replayed in this answer */
  revisions: number
  /** present when the window holds more writes than one call replays: pass it to read on */
  cursor?: string
}

/** replayed revisions asked of the engine at once */
const PARALLEL = 4

/**
 * The object types whose relationships can change who holds a permission on `type`: the subject
 * types of its relations, theirs, and so on (a conservative reading of the schema).
 */
export function reachableTypes(schemaText: string, type: string): Set<string> {
  const text = schemaText.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
  const edges = new Map<string, Set<string>>()
  for (const def of text.matchAll(/\bdefinition\s+([a-z_][a-z0-9_/]*)\s*\{([^}]*)\}/g)) {
    const out = new Set<string>()
    for (const rel of def[2]!.matchAll(/\brelation\s+[a-z_][a-z0-9_]*\s*:([^\n]+)/g)) {
      for (const alt of rel[1]!.split('|')) {
        const t = /^\s*([a-z_][a-z0-9_/]*)/.exec(alt)?.[1]
        if (t) out.add(t)
      }
    }
    edges.set(def[1]!, out)
  }
  const seen = new Set([type])
  const queue = [type]
  while (queue.length) {
    for (const next of edges.get(queue.shift()!) ?? []) {
      if (seen.has(next)) continue
      seen.add(next)
      queue.push(next)
    }
  }
  return seen
}

const typeOf = (relationship: string) => relationship.slice(0, relationship.indexOf(':'))

async function inParallel<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }))
  return out
}

export interface AccessChangesInput {
  resource: string
  permission: string
  subjectType?: string
  /** absent: from the oldest recorded write that history still reaches */
  since?: string
  until?: string
  cursor?: string
}

export async function accessChanges(
  engine: EnginePort,
  history: History,
  trail: AuditScan,
  input: AccessChangesInput,
  ctx: { now: Date; schemaText: string; arrows?: SchemaArrows; maxRevisions: number; limits: ReadLimits },
): Promise<AccessChanges> {
  const resource = parseObject(input.resource, 'resource')
  const subjectType = input.subjectType ?? 'user'
  const sinceMs = input.since !== undefined ? parseTime(input.since, 'since', ctx.now) : await history.earliest()
  const untilMs = input.until !== undefined ? parseTime(input.until, 'until', ctx.now) : ctx.now.getTime()
  if (untilMs < sinceMs) throw badRequest('until', 'is before since', 'GW_VALIDATION')

  // the window starts from the revision that held at `since`, or where the last call stopped
  let base: { id: string; token: string }
  if (input.cursor) {
    const ms = Number(input.cursor.split('-')[0])
    await history.assertKept(ms, 'cursor')
    const at = (await trail.scan({ sinceMs: ms, untilMs: ms, count: 1000 })).find((r) => r.id === input.cursor)
    if (!at || ms < sinceMs || ms > untilMs) throw badRequest('cursor', 'is not a position in this window of the trail', 'GW_INVALID_CURSOR')
    base = { id: at.id!, token: at.zedToken }
  } else {
    const moment = await history.at(sinceMs, 'since')
    base = { id: moment.writeId, token: moment.revision }
  }

  const types = reachableTypes(ctx.schemaText, resource.type)
  const matters = (r: AuditRecord) =>
    r.changes.some((c) => !c.relationship.startsWith('internal_') && types.has(typeOf(c.relationship))) || (r.deleteFilter !== undefined && types.has(typeOf(r.deleteFilter + ':')))
  const candidates: AuditRecord[] = []
  let after = base.id
  let more = false
  const seen = new Set<string>()
  for (;;) {
    const batch = await trail.scan({ after, untilMs, count: 500 })
    for (const r of batch) {
      after = r.id!
      if (seen.has(r.uid) || !matters(r)) continue
      seen.add(r.uid)
      if (candidates.length === ctx.maxRevisions) {
        more = true
        break
      }
      candidates.push(r)
    }
    if (more || batch.length === 0) break
  }

  const fields = { resource: 'resource', permission: 'permission', subject: 'subjectType' }
  const exact = (token: string): Consistency => ({ mode: 'at_exact_snapshot', token })
  const context = withGatewayContext(undefined, ctx.now)
  const holdersAt = async (token: string) => {
    const res = await holdersAtMost(ctx.limits, () =>
      engine.lookupSubjects({ resource, permission: input.permission, subjectType, context }, exact(token), {
        signal: ctx.limits.signal,
        maxResults: ctx.limits.maxSubjects,
      }),
    )
    return new Set(res.subjects.map((h) => `${subjectType}:${h.id}`))
  }
  const paths = new Map<string, Promise<Map<string, string[][]>>>()
  const pathsAt = (token: string) => {
    let p = paths.get(token)
    if (!p) {
      p = expandFully(engine, resource, input.permission, exact(token), { arrows: ctx.arrows, signal: ctx.limits.signal }).then((x) => pathsBySubject(x.tree))
      paths.set(token, p)
    }
    return p
  }

  try {
    const sets = await inParallel([base.token, ...candidates.map((r) => r.zedToken)], PARALLEL, holdersAt)
    const changes: AccessChange[] = []
    for (let i = 0; i < candidates.length; i++) {
      const r = candidates[i]!
      const before = sets[i]!
      const now = sets[i + 1]!
      const gained = [...now].filter((s) => !before.has(s)).sort()
      const lost = [...before].filter((s) => !now.has(s)).sort()
      if (gained.length + lost.length === 0) continue
      const write = {
        id: r.id!,
        source: r.source,
        ...(r.event ? { event: r.event.id, type: r.event.type, ...(r.event.actor ? { actor: r.event.actor } : {}) } : {}),
        ...(r.keyName ? { key: r.keyName } : {}),
        token: r.zedToken,
      }
      const after = gained.length ? await pathsAt(r.zedToken) : undefined
      const prior = lost.length ? await pathsAt(i === 0 ? base.token : candidates[i - 1]!.zedToken) : undefined
      for (const subject of gained) changes.push({ at: r.at, subject, change: 'gained', via: after!.get(subject) ?? [], write })
      for (const subject of lost) changes.push({ at: r.at, subject, change: 'lost', via: prior!.get(subject) ?? [], write })
    }
    const out: AccessChanges = {
      resource: formatObject(resource),
      permission: input.permission,
      subjectType,
      since: new Date(sinceMs).toISOString(),
      until: new Date(untilMs).toISOString(),
      from: base.token,
      changes,
      revisions: candidates.length,
    }
    if (more) out.cursor = candidates.at(-1)!.id!
    return out
  } catch (err) {
    throw staleRevision(err, history.limits.retentionSetting, 'since') ?? fromEngineError(err, fields)
  }
}

/** One row per path of each change (a change with no path drawn: one row, path empty). */
export function accessChangesRows(a: AccessChanges): string[][] {
  const rows = [['at', 'subject', 'change', 'path', 'write_id', 'source', 'event_id', 'event_type', 'actor', 'key', 'zedtoken']]
  for (const c of a.changes) {
    const w = c.write
    const tail = [w.id, w.source, w.event ?? '', w.type ?? '', w.actor ?? '', w.key ?? '', w.token]
    if (c.via.length === 0) rows.push([c.at, c.subject, c.change, '', ...tail])
    for (const p of c.via) rows.push([c.at, c.subject, c.change, p.join(' > '), ...tail])
  }
  return rows
}
