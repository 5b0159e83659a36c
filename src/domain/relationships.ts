/**
 * Direct relationship administration: reading by filter, writing updates with SpiceDB
 * preconditions, deleting by filter. Inputs are validated into the port's types first.
 */
import type { EnginePort, Precondition, RelationshipFilter, RelationshipUpdate, UpdateOperation } from '../engine/port.js'
import { READ_YOUR_WRITES } from './consistency.js'
import { fromEngineError } from './engine-errors.js'
import { badRequest } from './errors.js'
import { formatRelationship, parseObject, parseRelationship, parseSubject } from './refs.js'

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
) {
  const filter = parseFilter(input, 'query')
  try {
    const page = await engine.readRelationships(filter, { limit: input.limit, cursor: input.cursor }, READ_YOUR_WRITES)
    const relationships = page.relationships.map(formatRelationship)
    return page.cursor ? { relationships, cursor: page.cursor } : { relationships }
  } catch (err) {
    throw fromEngineError(err, fields('query'))
  }
}

export async function writeRelationships(
  engine: EnginePort,
  input: { updates: { operation: UpdateOperation; relationship: string }[]; preconditions?: PreconditionInput[] },
) {
  const updates: RelationshipUpdate[] = input.updates.map((u, i) => ({
    operation: u.operation,
    relationship: parseRelationship(u.relationship, `updates.${i}.relationship`),
  }))
  const preconditions: Precondition[] = (input.preconditions ?? []).map((p, i) => ({
    operation: p.operation,
    filter: parseFilter(p.filter, `preconditions.${i}.filter`),
  }))
  try {
    return { writtenAt: await engine.writeRelationships(updates, preconditions) }
  } catch (err) {
    throw fromEngineError(err, fields('updates'))
  }
}

export async function deleteRelationships(
  engine: EnginePort,
  input: { filter: FilterInput; preconditions?: PreconditionInput[] },
) {
  const filter = parseFilter(input.filter, 'filter')
  const preconditions: Precondition[] = (input.preconditions ?? []).map((p, i) => ({
    operation: p.operation,
    filter: parseFilter(p.filter, `preconditions.${i}.filter`),
  }))
  try {
    return await engine.deleteRelationships(filter, preconditions)
  } catch (err) {
    throw fromEngineError(err, fields('filter'))
  }
}
