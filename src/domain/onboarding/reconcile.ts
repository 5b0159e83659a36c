/**
 * Reconcile: the platform sends its current truth as the events that would create it from
 * nothing; the gateway replays them into a scratch engine (embedded, in memory) with the same
 * translators and invariants, and compares that state with the live one. `missing`: what the
 * truth has and the live engine lacks (an event lost in an outbox), each line with the events
 * that wrote it; `extra`: what the live engine has and the truth does not (a grant made by hand,
 * a producer's bug). Internal types (the write guards) are compared on neither side: they hold
 * versions, not access. `apply` writes the difference, judged whole like an import.
 *
 * Bounds: the events are one JSON body (RECONCILE_MAX_BYTES, RECONCILE_MAX_EVENTS); the truth's
 * state and the difference are held in memory, the live side is streamed. Each list in the
 * answer names at most MAX_LISTED relationships (`counts` has the totals).
 */
import type { EnginePort, Relationship, RelationshipUpdate } from '../../engine/port.js'
import { translateEvent } from '../events/apply/apply.js'
import { parseEvent } from '../events/contract/parse.js'
import { indexSchema } from '../schema/subject-uses.js'
import type { DomainEvent } from '../events/contract/schemas.js'
import { GatewayError, badRequest } from '../wire/errors.js'
import { JudgementIndex } from './import-judgement.js'
import { caveatOf, invariantRefusal, keyOf } from './import.js'

export const MAX_LISTED = 10_000
const PAGE = 1000

export interface ReconcileDeps {
  /** the live engine (writes go to it unaudited: the caller keeps one audit record) */
  engine: EnginePort
  /** a fresh in-memory engine with the schema written; closed when the reconcile ends */
  scratch: () => Promise<EnginePort>
  schemaText: string
  types: string[]
  clock: () => Date
  maxEvents: number
  signal?: AbortSignal
  /** told once the difference is written (the caller's audit record) */
  applied?: (updates: RelationshipUpdate[], token: string) => Promise<void>
}

interface Line {
  relationship: string
  caveat?: Relationship['caveat']
}

export interface ObjectDifference<T extends Line> {
  object: string
  relationships: T[]
}

export interface ReconcileResult {
  missing: ObjectDifference<Line & { events: string[] }>[]
  extra: ObjectDifference<Line>[]
  counts: { missing: number; extra: number }
  /** true when a list was cut at MAX_LISTED relationships */
  truncated?: boolean
  applied?: { writtenAt: string; touched: number; deleted: number }
}

const lineOf = (r: Relationship): Line => (r.caveat ? { relationship: keyOf(r), caveat: r.caveat } : { relationship: keyOf(r) })

function grouped<T extends Line>(lines: { r: Relationship; line: T }[]): ObjectDifference<T>[] {
  const by = new Map<string, T[]>()
  for (const { r, line } of lines.slice(0, MAX_LISTED)) {
    const object = `${r.resource.type}:${r.resource.id}`
    const list = by.get(object) ?? []
    list.push(line)
    by.set(object, list)
  }
  return [...by].map(([object, relationships]) => ({ object, relationships }))
}

/** Replays the events into the scratch engine; returns its state, key -> relationship and the events that wrote it. */
async function truthOf(deps: ReconcileDeps, events: DomainEvent[]) {
  const scratch = await deps.scratch()
  try {
    const wrote = new Map<string, string[]>()
    let current = ''
    // the scratch engine, noting which event wrote each relationship
    const noting: EnginePort = Object.create(scratch)
    noting.writeRelationships = async (updates, preconditions) => {
      const token = await scratch.writeRelationships(updates, preconditions)
      for (const u of updates) {
        const key = keyOf(u.relationship)
        if (u.operation === 'delete') wrote.delete(key)
        else wrote.set(key, [...(wrote.get(key) ?? []), current])
      }
      return token
    }
    const apply = { engine: noting, schema: indexSchema(deps.schemaText), clock: deps.clock }
    for (const [i, event] of events.entries()) {
      if (deps.signal?.aborted) throw new GatewayError('GW_CLIENT_CLOSED', 499, 'the caller closed its connection before the answer')
      current = event.id
      try {
        // the platform's own truth: no actor to authorize
        await translateEvent(apply, { ...event, actor: undefined } as DomainEvent)
      } catch (err) {
        if (!(err instanceof GatewayError) || err.statusCode >= 500) throw err
        throw new GatewayError(
          err.code,
          409,
          `events.${i} (${event.id}) cannot be replayed, so the events are not a truth the gateway can hold: ${err.message}`,
          `events.${i}`,
          {
            ...err.details,
            index: i,
            id: event.id,
          },
        )
      }
    }
    const truth = new Map<string, Relationship>()
    const at = await scratch.headToken()
    for await (const page of scratch.exportRelationships!({ types: deps.types, at })) for (const r of page) truth.set(keyOf(r), r)
    return { truth, wrote }
  } finally {
    await scratch.close()
  }
}

export async function reconcile(deps: ReconcileDeps, input: { events: unknown[]; apply?: boolean }): Promise<ReconcileResult> {
  if (input.events.length > deps.maxEvents)
    throw badRequest('events', `holds ${input.events.length} events, more than ${deps.maxEvents} (RECONCILE_MAX_EVENTS)`)
  const events = input.events.map((raw, i) => parseEvent(raw, `events.${i}.`))
  const { truth, wrote } = await truthOf(deps, events)

  const engine = deps.engine
  const at = await engine.headToken()
  const index = new JudgementIndex()
  const extra: Relationship[] = []
  for await (const page of engine.exportRelationships!({ types: deps.types, at, signal: deps.signal })) {
    for (const r of page) {
      index.addLive(r)
      const key = keyOf(r)
      const want = truth.get(key)
      if (want && caveatOf(want) === caveatOf(r)) truth.delete(key)
      else extra.push(r)
    }
  }
  const missing = [...truth.values()]
  const result: ReconcileResult = {
    missing: grouped(missing.map((r) => ({ r, line: { ...lineOf(r), events: [...new Set(wrote.get(keyOf(r)) ?? [])] } }))),
    extra: grouped(extra.map((r) => ({ r, line: lineOf(r) }))),
    counts: { missing: missing.length, extra: extra.length },
  }
  if (missing.length > MAX_LISTED || extra.length > MAX_LISTED) result.truncated = true
  if (!input.apply || missing.length + extra.length === 0) return result

  // One judged set: the extras deleted, the missing touched (a changed caveat is a touch alone).
  const touched = new Set(missing.map(keyOf))
  const deletes = extra.filter((r) => !touched.has(keyOf(r)))
  deletes.forEach((r, i) => index.delete(r, i + 1))
  missing.forEach((r, i) => index.add(r, deletes.length + i + 1))
  const violations = await index.judgeAll()
  if (violations.length) throw invariantRefusal(violations, 'the difference (entries numbered deletes first, then touches)')
  const updates: RelationshipUpdate[] = [
    ...deletes.map((relationship) => ({ operation: 'delete' as const, relationship })),
    ...missing.map((relationship) => ({ operation: 'touch' as const, relationship })),
  ]
  let writtenAt = at
  for (let i = 0; i < updates.length; i += PAGE) writtenAt = await engine.writeRelationships(updates.slice(i, i + PAGE))
  await deps.applied?.(updates, writtenAt)
  result.applied = { writtenAt, touched: missing.length, deleted: deletes.length }
  return result
}
