/**
 * The v1 requests the engine port's questions and writes become, and the answers mapped back
 * where the mapping is more than a field: kept apart from src/engine/spicedb-engine.ts, whose
 * concern is when and how a call is made (deadlines, the write marks, the caches), not its shape.
 */
import { v1 } from '@authzed/authzed-node'
import type {
  CheckItem,
  Consistency,
  LookupResourcesRequest,
  LookupSubjectsRequest,
  ObjectRef,
  Precondition,
  RelationshipFilter,
  RelationshipUpdate,
} from './port.js'
import * as pb from './proto.js'

const cursor = (token?: string) => (token ? v1.Cursor.create({ token }) : undefined)

export const checkBulk = (items: CheckItem[], c: Consistency) =>
  v1.CheckBulkPermissionsRequest.create({ consistency: pb.consistency(c), items: items.map(pb.checkItem) })

export const checkTraced = (item: CheckItem, c: Consistency) =>
  v1.CheckPermissionRequest.create({
    consistency: pb.consistency(c),
    resource: pb.objectRef(item.resource),
    permission: item.permission,
    subject: pb.subjectRef(item.subject),
    context: pb.struct(item.context),
    withTracing: true,
  })

export const lookupResources = (req: LookupResourcesRequest, c: Consistency) =>
  v1.LookupResourcesRequest.create({
    consistency: pb.consistency(c),
    resourceObjectType: req.resourceType,
    permission: req.permission,
    subject: pb.subjectRef(req.subject),
    context: pb.struct(req.context),
    optionalLimit: req.limit ?? 0,
    optionalCursor: cursor(req.cursor),
  })

export const lookupSubjects = (req: LookupSubjectsRequest, c: Consistency) =>
  v1.LookupSubjectsRequest.create({
    consistency: pb.consistency(c),
    resource: pb.objectRef(req.resource),
    permission: req.permission,
    subjectObjectType: req.subjectType,
    optionalSubjectRelation: req.subjectRelation ?? '',
    context: pb.struct(req.context),
  })

export const expand = (resource: ObjectRef, permission: string, c: Consistency) =>
  v1.ExpandPermissionTreeRequest.create({ consistency: pb.consistency(c), resource: pb.objectRef(resource), permission })

export const readRelationships = (filter: RelationshipFilter, page: { limit?: number; cursor?: string }, c: Consistency) =>
  v1.ReadRelationshipsRequest.create({
    consistency: pb.consistency(c),
    relationshipFilter: pb.filter(filter),
    optionalLimit: page.limit ?? 0,
    optionalCursor: cursor(page.cursor),
  })

/** a page of ReadRelationships: the cursor only when the page is full, the revision it was read at */
export function readPage(stream: v1.ReadRelationshipsResponse[], limit?: number) {
  const relationships = stream.flatMap((r) => (r.relationship ? [pb.fromRelationship(r.relationship)] : []))
  const next = limit && stream.length === limit ? stream.at(-1)?.afterResultCursor?.token : undefined
  const readAt = stream[0]?.readAt ? pb.token(stream[0].readAt) : undefined
  return { relationships, ...(next ? { cursor: next } : {}), ...(readAt ? { readAt } : {}) }
}

export const writeRelationships = (updates: RelationshipUpdate[], preconditions: Precondition[]) =>
  v1.WriteRelationshipsRequest.create({ updates: updates.map(pb.update), optionalPreconditions: preconditions.map(pb.precondition) })

export const deleteRelationships = (filter: RelationshipFilter, preconditions: Precondition[]) =>
  v1.DeleteRelationshipsRequest.create({ relationshipFilter: pb.filter(filter), optionalPreconditions: preconditions.map(pb.precondition) })
