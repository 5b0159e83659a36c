/**
 * "Who gained or lost this permission, when, and by which write": the holders (LookupSubjects,
 * the same evaluation as a check) compared at consecutive recorded revisions. Comparing holders,
 * not the object's own relationships, is what makes a change that came through the organization
 * (an admin added, a role changed, a group joined) show, with the write that caused it.
 *
 * Cost is bounded, and proportional to the writes that reach the object:
 * - a recorded write is replayed only if it touches an object the permission's walk visits
 *   (./reach.ts): a write elsewhere in the business is skipped without asking the engine;
 * - each replayed write costs one LookupSubjects and one expansion (which also renews the walk);
 * - one call replays at most `maxRevisions` (HISTORY_MAX_REVISIONS) writes and reads at most
 *   `maxScanned` (HISTORY_MAX_SCANNED) records of the trail; past either the answer carries a
 *   cursor where the next call resumes. `bench/access-changes.ts` measures it.
 */
import type { Consistency, EnginePort } from '../../engine/port.js'
import type { AuditScan } from './query.js'
import { withGatewayContext } from '../wire/consistency.js'
import { fromEngineError } from '../wire/engine-errors.js'
import { badRequest } from '../wire/errors.js'
import { expandFully, pathsBySubject, type Paths } from '../questions/expand.js'
import { History, parseTime, staleRevision } from '../questions/history.js'
import { holdersAtMost, type ReadLimits } from '../questions/lookup.js'
import { formatObject, parseObject } from '../wire/refs.js'
import type { SchemaArrows } from '../schema/arrows.js'
import { readSchema } from '../schema/model.js'
import { mayChangeHolders, visitedObjects } from './reach.js'

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
  /** recorded writes replayed in this answer (each: one LookupSubjects and one expansion) */
  revisions: number
  /** recorded writes read from the trail in this answer; those that cannot reach the object were skipped */
  scanned: number
  /** present when the window holds more writes than one call replays: pass it to read on */
  cursor?: string
}

/**
 * The object types whose relationships can change who holds a permission on `type`: the subject
 * types of its relations, theirs, and so on (a conservative reading of the schema model).
 */
export function reachableTypes(schemaText: string, type: string): Set<string> {
  const model = readSchema(schemaText)
  const seen = new Set([type])
  const queue = [type]
  while (queue.length) {
    for (const relation of model.definitions.get(queue.shift()!)?.relations ?? []) {
      for (const next of relation.subjects.map((a) => a.type)) {
        if (seen.has(next)) continue
        seen.add(next)
        queue.push(next)
      }
    }
  }
  return seen
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
  ctx: { now: Date; schemaText: string; arrows?: SchemaArrows; maxRevisions: number; maxScanned: number; limits: ReadLimits; skipUnreached?: boolean },
): Promise<AccessChanges> {
  const resource = parseObject(input.resource, 'resource')
  // off only to measure what skipping saves (bench/access-changes.ts): every write of a type it depends on is replayed
  const walk = ctx.skipUnreached !== false
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
  const expansionAt = (token: string) =>
    expandFully(engine, resource, input.permission, exact(token), { arrows: ctx.arrows, signal: ctx.limits.signal }).then((x) => x.tree)
  /**
   * Who holds it at one revision, with the walk's expansion asked alongside (it says which later
   * writes can reach the object, and the paths); without skipping, the expansion only where
   * someone changed.
   */
  const stateAt = async (token: string) => {
    const [holders, tree] = await Promise.all([holdersAt(token), walk ? expansionAt(token) : undefined])
    let paths: Promise<Paths> | undefined
    return {
      holders,
      visited: tree && visitedObjects(tree),
      paths: () => (paths ??= (tree ? Promise.resolve(tree) : expansionAt(token)).then(pathsBySubject)),
    }
  }

  const types = reachableTypes(ctx.schemaText, resource.type)
  const changes: AccessChange[] = []
  let replayed = 0
  let scanned = 0
  let cursor: string | undefined
  let last: string | undefined
  try {
    let state = await stateAt(base.token)
    let after = base.id
    const seen = new Set<string>()
    scan: for (;;) {
      const batch = await trail.scan({ after, untilMs, count: 500 })
      if (batch.length === 0) break
      for (const r of batch) {
        after = r.id!
        if (seen.has(r.uid)) continue
        seen.add(r.uid)
        if (replayed === ctx.maxRevisions || scanned === ctx.maxScanned) {
          cursor = last
          break scan
        }
        scanned++
        last = r.id
        if (!mayChangeHolders(r, types, state.visited)) continue
        replayed++
        const next = await stateAt(r.zedToken)
        const gained = [...next.holders].filter((s) => !state.holders.has(s)).sort()
        const lost = [...state.holders].filter((s) => !next.holders.has(s)).sort()
        const write = {
          id: r.id!,
          source: r.source,
          ...(r.event ? { event: r.event.id, type: r.event.type, ...(r.event.actor ? { actor: r.event.actor } : {}) } : {}),
          ...(r.keyName ? { key: r.keyName } : {}),
          token: r.zedToken,
        }
        const held = gained.length ? await next.paths() : undefined
        const prior = lost.length ? await state.paths() : undefined
        for (const subject of gained) changes.push({ at: r.at, subject, change: 'gained', via: held!.get(subject) ?? [], write })
        for (const subject of lost) changes.push({ at: r.at, subject, change: 'lost', via: prior!.get(subject) ?? [], write })
        state = next
      }
    }
  } catch (err) {
    throw staleRevision(err, history.limits.retentionSetting, 'since') ?? fromEngineError(err, fields)
  }
  const out: AccessChanges = {
    resource: formatObject(resource),
    permission: input.permission,
    subjectType,
    since: new Date(sinceMs).toISOString(),
    until: new Date(untilMs).toISOString(),
    from: base.token,
    changes,
    revisions: replayed,
    scanned,
  }
  if (cursor) out.cursor = cursor
  return out
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
