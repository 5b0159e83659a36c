/**
 * Conversions between the port's types and SpiceDB's v1 protocol messages.
 * Both adapters speak the same protocol, so they share this file.
 */
import { v1 } from '@authzed/authzed-node'
import { EngineError } from './port.js'
import { toEngineError } from './transport.js'
import type {
  CheckItem,
  CheckResult,
  Consistency,
  ExpandTree,
  ObjectRef,
  Permissionship,
  Precondition,
  Relationship,
  RelationshipFilter,
  RelationshipUpdate,
  SubjectRef,
  TraceNode,
} from './port.js'

type JsonObject = Record<string, unknown>

export function objectRef(o: ObjectRef): v1.ObjectReference {
  return v1.ObjectReference.create({ objectType: o.type, objectId: o.id })
}

export function subjectRef(s: SubjectRef): v1.SubjectReference {
  return v1.SubjectReference.create({ object: objectRef(s), optionalRelation: s.relation ?? '' })
}

export function struct(ctx: JsonObject | undefined): v1.PbStruct | undefined {
  return ctx && Object.keys(ctx).length > 0 ? v1.PbStruct.fromJson(ctx as never) : undefined
}

export function consistency(c: Consistency): v1.Consistency {
  switch (c.mode) {
    case 'minimize_latency':
      return v1.Consistency.create({ requirement: { oneofKind: 'minimizeLatency', minimizeLatency: true } })
    case 'at_least_as_fresh':
      // without a token: the gateway's default, which only read-your-writes.ts can pin
      if (!c.token) return v1.Consistency.create({ requirement: { oneofKind: 'fullyConsistent', fullyConsistent: true } })
      return v1.Consistency.create({
        requirement: { oneofKind: 'atLeastAsFresh', atLeastAsFresh: v1.ZedToken.create({ token: c.token }) },
      })
    case 'fully_consistent':
      return v1.Consistency.create({ requirement: { oneofKind: 'fullyConsistent', fullyConsistent: true } })
    case 'at_exact_snapshot':
      return v1.Consistency.create({
        requirement: { oneofKind: 'atExactSnapshot', atExactSnapshot: v1.ZedToken.create({ token: c.token ?? '' }) },
      })
  }
}

export function relationship(r: Relationship): v1.Relationship {
  return v1.Relationship.create({
    resource: objectRef(r.resource),
    relation: r.relation,
    subject: subjectRef(r.subject),
    optionalCaveat: r.caveat ? v1.ContextualizedCaveat.create({ caveatName: r.caveat.name, context: struct(r.caveat.context) }) : undefined,
  })
}

export function fromRelationship(r: v1.Relationship): Relationship {
  const out: Relationship = {
    resource: { type: r.resource?.objectType ?? '', id: r.resource?.objectId ?? '' },
    relation: r.relation,
    subject: fromSubject(r.subject),
  }
  if (r.optionalCaveat?.caveatName) {
    const context = r.optionalCaveat.context ? (v1.PbStruct.toJson(r.optionalCaveat.context) as JsonObject) : undefined
    out.caveat = context ? { name: r.optionalCaveat.caveatName, context } : { name: r.optionalCaveat.caveatName }
  }
  return out
}

export function fromSubject(s: v1.SubjectReference | undefined): SubjectRef {
  const out: SubjectRef = { type: s?.object?.objectType ?? '', id: s?.object?.objectId ?? '' }
  if (s?.optionalRelation) out.relation = s.optionalRelation
  return out
}

const OPERATIONS = {
  touch: v1.RelationshipUpdate_Operation.TOUCH,
  create: v1.RelationshipUpdate_Operation.CREATE,
  delete: v1.RelationshipUpdate_Operation.DELETE,
} as const

export function update(u: RelationshipUpdate): v1.RelationshipUpdate {
  return v1.RelationshipUpdate.create({ operation: OPERATIONS[u.operation], relationship: relationship(u.relationship) })
}

export function filter(f: RelationshipFilter): v1.RelationshipFilter {
  return v1.RelationshipFilter.create({
    resourceType: f.resourceType,
    optionalResourceId: f.resourceId ?? '',
    optionalRelation: f.relation ?? '',
    optionalSubjectFilter: f.subject
      ? v1.SubjectFilter.create({
          subjectType: f.subject.type,
          optionalSubjectId: f.subject.id,
          optionalRelation: f.subject.relation !== undefined ? { relation: f.subject.relation } : undefined,
        })
      : undefined,
  })
}

export function precondition(p: Precondition): v1.Precondition {
  return v1.Precondition.create({
    operation: p.operation === 'must_match' ? v1.Precondition_Operation.MUST_MATCH : v1.Precondition_Operation.MUST_NOT_MATCH,
    filter: filter(p.filter),
  })
}

export function checkItem(i: CheckItem): v1.CheckBulkPermissionsRequestItem {
  return v1.CheckBulkPermissionsRequestItem.create({
    resource: objectRef(i.resource),
    permission: i.permission,
    subject: subjectRef(i.subject),
    context: struct(i.context),
  })
}

export function permissionship(p: v1.CheckPermissionResponse_Permissionship): Permissionship {
  if (p === v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION) return 'has_permission'
  if (p === v1.CheckPermissionResponse_Permissionship.CONDITIONAL_PERMISSION) return 'conditional'
  return 'no_permission'
}

export function lookupPermissionship(p: v1.LookupPermissionship): Permissionship {
  if (p === v1.LookupPermissionship.HAS_PERMISSION) return 'has_permission'
  if (p === v1.LookupPermissionship.CONDITIONAL_PERMISSION) return 'conditional'
  return 'no_permission'
}

export function token(t: v1.ZedToken | undefined): string {
  return t?.token ?? ''
}

export function expandTree(t: v1.PermissionRelationshipTree | undefined): ExpandTree {
  const expanded = {
    type: t?.expandedObject?.objectType ?? '',
    id: t?.expandedObject?.objectId ?? '',
    relation: t?.expandedRelation ?? '',
  }
  const tt = t?.treeType
  if (tt?.oneofKind === 'intermediate') {
    const op = tt.intermediate.operation
    const operation =
      op === v1.AlgebraicSubjectSet_Operation.INTERSECTION ? 'intersection' : op === v1.AlgebraicSubjectSet_Operation.EXCLUSION ? 'exclusion' : 'union'
    return { expanded, operation, children: tt.intermediate.children.map(expandTree) }
  }
  const subjects = tt?.oneofKind === 'leaf' ? tt.leaf.subjects.map(fromSubject) : []
  return { expanded, leaf: { subjects } }
}

/** The subset of SpiceDB's CheckDebugTrace that explanations use (structural, version-tolerant). */
export interface DebugTrace {
  resource?: v1.ObjectReference
  permission: string
  permissionType: number
  subject?: v1.SubjectReference
  result: number
  caveatEvaluationInfo?: { caveatName: string; result: number; partialCaveatInfo?: { missingRequiredContext: string[] } }
  resolution: { oneofKind: 'subProblems'; subProblems: { traces: DebugTrace[] } } | { oneofKind: string | undefined }
}

const TRACE_RESULT = ['unspecified', 'no_permission', 'has_permission', 'conditional'] as const
const TRACE_KIND = ['unspecified', 'relation', 'permission'] as const
const CAVEAT_RESULT = ['unspecified', 'unevaluated', 'false', 'true', 'missing_some_context'] as const

export function traceNode(t: DebugTrace): TraceNode {
  const node: TraceNode = {
    resource: { type: t.resource?.objectType ?? '', id: t.resource?.objectId ?? '' },
    permission: t.permission,
    kind: TRACE_KIND[t.permissionType] ?? 'unspecified',
    result: TRACE_RESULT[t.result] ?? 'unspecified',
    subject: fromSubject(t.subject),
    children: [],
  }
  const cav = t.caveatEvaluationInfo
  if (cav?.caveatName) {
    node.caveat = { name: cav.caveatName, result: CAVEAT_RESULT[cav.result] ?? 'unspecified' }
    const missing = cav.partialCaveatInfo?.missingRequiredContext
    if (missing?.length) node.caveat.missing = missing
  }
  if (t.resolution.oneofKind === 'subProblems' && 'subProblems' in t.resolution) {
    node.children = t.resolution.subProblems.traces.map(traceNode)
  }
  return node
}

/** CheckBulkPermissions' pairs as answers, in order; an item the engine could not answer is its error */
export function checkResults(res: v1.CheckBulkPermissionsResponse, expected: number): CheckResult[] {
  if (res.pairs.length !== expected) throw new EngineError('internal', `engine answered ${res.pairs.length} of ${expected} checks`)
  return res.pairs.map((pair): CheckResult => {
    const r = pair.response
    if (r.oneofKind === 'item') {
      const out: CheckResult = { permissionship: permissionship(r.item.permissionship) }
      const missing = r.item.partialCaveatInfo?.missingRequiredContext
      if (missing?.length) out.missingContext = missing
      return out
    }
    const status = r.oneofKind === 'error' ? r.error : undefined
    return { permissionship: 'no_permission', error: toEngineError({ code: status?.code, message: status?.message ?? 'no answer' }) }
  })
}

/** a LookupResources stream as one page: a full page may have more behind it, a short one is the end */
export function lookedUpResources(stream: v1.LookupResourcesResponse[], limit?: number) {
  const resources = stream.map((r) => {
    const hit = { id: r.resourceObjectId, permissionship: lookupPermissionship(r.permissionship) }
    const missing = r.partialCaveatInfo?.missingRequiredContext
    return missing?.length ? { ...hit, missingContext: missing } : hit
  })
  const last = stream.at(-1)
  const cursor = limit && stream.length === limit ? last?.afterResultCursor?.token : undefined
  return { resources, cursor, lookedUpAt: last ? token(last.lookedUpAt) : undefined }
}

export function lookedUpSubjects(stream: v1.LookupSubjectsResponse[]) {
  const subjects = stream.map((r) => {
    const s = r.subject
    const hit = {
      id: s?.subjectObjectId ?? r.subjectObjectId,
      permissionship: lookupPermissionship(s?.permissionship ?? r.permissionship),
    }
    const missing = (s?.partialCaveatInfo ?? r.partialCaveatInfo)?.missingRequiredContext
    return missing?.length ? { ...hit, missingContext: missing } : hit
  })
  return { subjects, lookedUpAt: stream[0] ? token(stream[0].lookedUpAt) : undefined }
}
