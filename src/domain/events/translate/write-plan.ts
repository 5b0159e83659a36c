/**
 * What translators need to read the current state and describe one atomic write: tuple
 * builders, fully consistent reads, and a WritePlan that collects updates and the
 * preconditions that pin the state the plan was computed from.
 */
import type { EnginePort, ObjectRef, Precondition, Relationship, RelationshipFilter, RelationshipUpdate, SubjectRef } from '../../../engine/port.js'
import { formatRelationship } from '../../wire/refs.js'

export const obj = (type: string, id: string): ObjectRef => ({ type, id })
export const user = (id: string): SubjectRef => ({ type: 'user', id })

export function tuple(resource: ObjectRef, relation: string, subject: SubjectRef, caveat?: Relationship['caveat']): Relationship {
  return caveat ? { resource, relation, subject, caveat } : { resource, relation, subject }
}

/** the filter matching exactly this relationship (caveats aside) */
export function exact(r: Relationship): RelationshipFilter {
  return { resourceType: r.resource.type, resourceId: r.resource.id, relation: r.relation, subject: r.subject }
}

const PAGE = 1000
const HEAD = Object.freeze({ mode: 'fully_consistent' as const })

/**
 * Every relationship matching the filter, at the engine's head and never older than a write the
 * gateway acknowledged (the engine wrapper checks a `fully_consistent` answer against its write
 * tokens and asks again when SpiceDB's shared head lookup answered from before one; see
 * docs/consistency.md): an event planned right after the event that created its object sees
 * the object. Not merely `at_least_as_fresh`: a plan whose write failed on a precondition must
 * re-read past the write that beat it, which may have come through another replica whose token
 * this one does not hold; a snapshot that is fresh enough for callers but older than head would
 * re-plan from the same stale guard again and again (a livelock, seen as GW_WRITE_CONTENTION).
 */
export async function readAll(engine: EnginePort, filter: RelationshipFilter): Promise<Relationship[]> {
  const out: Relationship[] = []
  let cursor: string | undefined
  do {
    const page = await engine.readRelationships(filter, { limit: PAGE, cursor }, HEAD)
    out.push(...page.relationships)
    cursor = page.cursor
  } while (cursor)
  return out
}

/** The ids of `resourceType` objects among `ids` that belong to the organization. */
export async function inOrganization(engine: EnginePort, resourceType: string, ids: Iterable<string>, orgId: string) {
  const unique = [...new Set(ids)]
  const owners = await Promise.all(unique.map((id) => organizationOf(engine, resourceType, id)))
  return new Set(unique.filter((_, i) => owners[i]?.subject.id === orgId))
}

/** the `organization` relationship of a program, client, group or course: its existence tuple */
export async function organizationOf(engine: EnginePort, resourceType: string, id: string): Promise<Relationship | undefined> {
  const found = await readAll(engine, { resourceType, resourceId: id, relation: 'organization' })
  return found[0]
}

/**
 * One atomic write in the making. Later operations on the same relationship replace earlier
 * ones (SpiceDB refuses two updates of one relationship in a write).
 */
export class WritePlan {
  private readonly ops = new Map<string, RelationshipUpdate>()
  readonly preconditions: Precondition[] = []

  touch(r: Relationship): this {
    this.ops.set(formatRelationship({ ...r, caveat: undefined }), { operation: 'touch', relationship: r })
    return this
  }

  remove(r: Relationship): this {
    this.ops.set(formatRelationship({ ...r, caveat: undefined }), { operation: 'delete', relationship: r })
    return this
  }

  /** the write fails if this relationship is gone by then */
  require(r: Relationship): this {
    this.preconditions.push({ operation: 'must_match', filter: exact(r) })
    return this
  }

  /** the write fails if anything matches the filter by then */
  forbid(filter: RelationshipFilter): this {
    this.preconditions.push({ operation: 'must_not_match', filter })
    return this
  }

  /**
   * Pins a person's whole set of relations on one resource (roles, privileges, grants): each
   * held one must still exist and each missing one must still be missing, so a concurrent
   * change to the set makes this write fail and the event is re-planned.
   */
  pinSet(resource: ObjectRef, relations: readonly string[], subject: SubjectRef, held: Set<string>): this {
    for (const relation of relations) {
      const r = tuple(resource, relation, subject)
      if (held.has(relation)) this.require(r)
      else this.forbid(exact(r))
    }
    return this
  }

  get updates(): RelationshipUpdate[] {
    return [...this.ops.values()]
  }
}

/** Relations held by the subject among the given relationships. */
export function relationsHeld(rels: Relationship[], relations: readonly string[]): Set<string> {
  const wanted = new Set(relations)
  return new Set(rels.map((r) => r.relation).filter((r) => wanted.has(r)))
}

/**
 * Reads that do not depend on each other, made at once (one round trip instead of several);
 * a refusal is the one the first failing read in argument order gives, as when they ran in turn.
 */
export async function together<T extends readonly unknown[]>(reads: readonly [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const settled = await Promise.allSettled(reads)
  for (const s of settled) if (s.status === 'rejected') throw s.reason
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T
}
