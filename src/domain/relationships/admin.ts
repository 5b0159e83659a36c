/**
 * Direct relationship administration: reading by filter, writing updates with SpiceDB
 * preconditions, deleting by filter. Inputs are validated into the port's types first. Writes
 * and deletes that touch relations an invariant governs are judged first (I1-I7,
 * relationship-invariants.ts) and carry what the judgement read as preconditions. None may
 * reach a type the schema marks internal (internal-types.ts): 403 before any engine call.
 */
import type { Consistency, EnginePort, Precondition, RelationshipFilter, RelationshipUpdate, UpdateOperation } from '../../engine/port.js'
import { READ_YOUR_WRITES } from '../wire/consistency.js'
import { fromEngineError } from '../wire/engine-errors.js'
import { badRequest } from '../wire/errors.js'
import { isWriteConflict } from '../events/apply/apply.js'
import { readAll } from '../events/translate/write-plan.js'
import { refuseInternal, refuseInternalFilter } from '../schema/internal-types.js'
import { GOVERNED, guardWrite, isGoverned } from './invariants.js'
import { formatRelationship, parseObject, parseRelationship, parseSubject } from '../wire/refs.js'

export interface FilterInput {
  resourceType?: string
  resourceId?: string
  resource?: string
  relation?: string
  subject?: string
}

export interface PreconditionInput {
  operation: 'must_match' | 'must_not_match'
  filter: FilterInput
}

export function parseFilter(input: FilterInput, field: string): RelationshipFilter {
  let resourceType = input.resourceType
  let resourceId = input.resourceId
  if (input.resource) {
    const o = parseObject(input.resource, `${field}.resource`)
    if (resourceType && resourceType !== o.type) throw badRequest(`${field}.resourceType`, 'contradicts resource')
    resourceType = o.type
    resourceId = o.id
  }
  if (!resourceType) throw badRequest(`${field}.resourceType`, 'is required (or give resource)')
  const filter: RelationshipFilter = { resourceType }
  if (resourceId) filter.resourceId = resourceId
  if (input.relation) filter.relation = input.relation
  if (input.subject) filter.subject = parseSubject(input.subject, `${field}.subject`)
  return filter
}

const fields = (field: string) => ({ relationship: field, resource: field })

export async function readRelationships(
  engine: EnginePort,
  input: FilterInput & { limit?: number; cursor?: string },
  signal?: AbortSignal,
  /** a snapshot of the past to read at (history.ts) */
  at?: Consistency,
) {
  const filter = parseFilter(input, 'query')
  try {
    const page = await engine.readRelationships(filter, { limit: input.limit, cursor: input.cursor }, at ?? READ_YOUR_WRITES, { signal })
    const relationships = page.relationships.map(formatRelationship)
    return page.cursor ? { relationships, cursor: page.cursor } : { relationships }
  } catch (err) {
    throw fromEngineError(err, fields('query'))
  }
}

const MAX_ATTEMPTS = 20

/** what a set of pins says, whatever order the reads returned it in */
const signature = (pins: Precondition[]) =>
  pins
    .map((p) => JSON.stringify(p))
    .sort()
    .join('\n')

/**
 * Writes the updates with the caller's preconditions and the invariants' pins. If the write
 * fails on a precondition and what the judgement read has changed, it is judged again on the
 * new state; if it has not changed, the caller's own precondition failed: that answer stands.
 */
async function guardedWrite(engine: EnginePort, updates: RelationshipUpdate[], preconditions: Precondition[]): Promise<string> {
  let pins = await guardWrite(engine, updates)
  for (let attempt = 1; ; attempt++) {
    try {
      return await engine.writeRelationships(updates, [...preconditions, ...pins])
    } catch (err) {
      if (pins.length === 0 || !isWriteConflict(err) || attempt >= MAX_ATTEMPTS) throw err
      const again = await guardWrite(engine, updates)
      if (signature(again) === signature(pins)) throw err
      pins = again
    }
  }
}

/** Writes as one atomic write at most this many updates (SpiceDB's default limit). */
const MAX_GUARDED_DELETE = 1000

/**
 * Delete by filter: when the filter can reach a relation an invariant governs, the matching
 * relationships are read and deleted as one judged write of exactly those (a relationship
 * added meanwhile survives, as if added after the delete); when none of them is governed, a
 * plain delete by filter pinned on "still none governed".
 */
async function guardedDelete(engine: EnginePort, filter: RelationshipFilter, preconditions: Precondition[]) {
  const governed = GOVERNED[filter.resourceType]?.filter((r) => !filter.relation || r === filter.relation) ?? []
  if (governed.length === 0) return engine.deleteRelationships(filter, preconditions)
  const found = await readAll(engine, filter)
  if (!found.some(isGoverned)) {
    const none = governed.map((relation) => ({ operation: 'must_not_match' as const, filter: { ...filter, relation } }))
    try {
      return await engine.deleteRelationships(filter, [...preconditions, ...none])
    } catch (err) {
      // A governed relationship appeared meanwhile: judge the delete on the new state. If none
      // did, the caller's own precondition failed: that answer stands.
      if (!isWriteConflict(err) || !(await readAll(engine, filter)).some(isGoverned)) throw err
      return guardedDelete(engine, filter, preconditions)
    }
  }
  if (found.length > MAX_GUARDED_DELETE) {
    throw badRequest(
      'filter',
      `matches ${found.length} relationships, some of which invariants govern; a judged delete is one atomic write of at most ${MAX_GUARDED_DELETE}: narrow the filter`,
    )
  }
  const updates = found.map((relationship) => ({ operation: 'delete' as const, relationship }))
  return { deletedAt: await guardedWrite(engine, updates, preconditions), count: found.length }
}

/** a caller's preconditions; one on an internal type would read the gateway's own state */
function parsePreconditions(input: PreconditionInput[] = []): Precondition[] {
  return input.map((p, i) => {
    const field = `preconditions.${i}.filter`
    const filter = parseFilter(p.filter, field)
    refuseInternalFilter(filter, p.filter, field)
    return { operation: p.operation, filter }
  })
}

/** `beforeWrite`: asked once the input is judged valid, before anything is written (it may refuse) */
export interface WriteOptions {
  beforeWrite?: () => void
}

export async function writeRelationships(
  engine: EnginePort,
  input: { updates: { operation: UpdateOperation; relationship: string }[]; preconditions?: PreconditionInput[] },
  opts: WriteOptions = {},
) {
  const updates: RelationshipUpdate[] = input.updates.map((u, i) => {
    const field = `updates.${i}.relationship`
    const relationship = parseRelationship(u.relationship, field)
    refuseInternal({ resource: relationship.resource.type, subject: relationship.subject.type }, field)
    return { operation: u.operation, relationship }
  })
  const preconditions = parsePreconditions(input.preconditions)
  opts.beforeWrite?.()
  try {
    return { writtenAt: await guardedWrite(engine, updates, preconditions) }
  } catch (err) {
    throw fromEngineError(err, fields('updates'))
  }
}

export async function deleteRelationships(engine: EnginePort, input: { filter: FilterInput; preconditions?: PreconditionInput[] }, opts: WriteOptions = {}) {
  const filter = parseFilter(input.filter, 'filter')
  refuseInternalFilter(filter, input.filter, 'filter')
  const preconditions = parsePreconditions(input.preconditions)
  opts.beforeWrite?.()
  try {
    return await guardedDelete(engine, filter, preconditions)
  } catch (err) {
    throw fromEngineError(err, fields('filter'))
  }
}
