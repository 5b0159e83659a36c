/**
 * The engine port: everything the gateway asks of an authorization engine, in the
 * gateway's own terms. Two adapters implement it (embedded SpiceDB, remote SpiceDB over
 * gRPC); nothing outside src/engine knows which one is in use.
 */

export interface ObjectRef {
  type: string
  id: string
}

export interface SubjectRef extends ObjectRef {
  relation?: string
}

export interface CaveatRef {
  name: string
  context?: Record<string, unknown>
}

export interface Relationship {
  resource: ObjectRef
  relation: string
  subject: SubjectRef
  caveat?: CaveatRef
}

export type UpdateOperation = 'touch' | 'create' | 'delete'

export interface RelationshipUpdate {
  operation: UpdateOperation
  relationship: Relationship
}

export interface RelationshipFilter {
  resourceType: string
  resourceId?: string
  relation?: string
  subject?: SubjectRef
}

export interface Precondition {
  operation: 'must_match' | 'must_not_match'
  filter: RelationshipFilter
}

/** `at_exact_snapshot` (with a token) reads the past: history (src/domain/questions/history.ts), never a caller's choice */
export type ConsistencyMode = 'minimize_latency' | 'at_least_as_fresh' | 'fully_consistent' | 'at_exact_snapshot'

/**
 * `at_least_as_fresh` without a token is the gateway's default: at least as fresh as every
 * write the gateway acknowledged (src/engine/consistency/read-your-writes.ts supplies the token; an
 * adapter used on its own answers it fully consistent).
 */
export interface Consistency {
  mode: ConsistencyMode
  token?: string
}

export type Permissionship = 'has_permission' | 'no_permission' | 'conditional'

export interface CheckItem {
  resource: ObjectRef
  permission: string
  subject: SubjectRef
  context?: Record<string, unknown>
}

export interface CheckResult {
  permissionship: Permissionship
  missingContext?: string[]
  /** set when this item failed; the item is then never allowed */
  error?: EngineError
}

export interface CheckAnswer {
  results: CheckResult[]
  checkedAt: string
}

/** One node of SpiceDB's check trace, reduced to what explanations need. */
export interface TraceNode {
  resource: ObjectRef
  permission: string
  kind: 'relation' | 'permission' | 'unspecified'
  result: Permissionship | 'unspecified'
  subject: SubjectRef
  caveat?: { name: string; result: string; missing?: string[] }
  children: TraceNode[]
}

export interface LookupResourcesRequest {
  resourceType: string
  permission: string
  subject: SubjectRef
  context?: Record<string, unknown>
  limit?: number
  cursor?: string
}

export interface LookupHit {
  id: string
  permissionship: Permissionship
  missingContext?: string[]
}

export interface LookupSubjectsRequest {
  resource: ObjectRef
  permission: string
  subjectType: string
  subjectRelation?: string
  context?: Record<string, unknown>
}

/** SpiceDB's expansion tree: a leaf lists subjects, an intermediate node combines children. */
export type ExpandTree =
  | { expanded: ObjectRef & { relation: string }; leaf: { subjects: SubjectRef[] } }
  | {
      expanded: ObjectRef & { relation: string }
      operation: 'union' | 'intersection' | 'exclusion'
      children: ExpandTree[]
    }

export interface ReadPage {
  relationships: Relationship[]
  cursor?: string
  /** the revision the page was read at (absent when the page is empty) */
  readAt?: string
}

export type EngineErrorKind =
  | 'invalid_argument'
  | 'failed_precondition'
  | 'not_found'
  | 'unavailable'
  | 'internal'
  /** the caller left before the answer (its request was cancelled); nothing is wrong with the engine */
  | 'cancelled'
  /** the answer holds more than the caller's `maxResults`; the engine's work was stopped there */
  | 'too_large'
  /** the engine runs without what this needs (a datastore that cannot serve Watch); the message says what to change */
  | 'unsupported'

/**
 * How a read runs: `signal` cancels it (the gRPC stream or call is cancelled, so the engine
 * stops working for a caller that left); `maxResults` stops a stream that would hold more.
 */
export interface CallOptions {
  signal?: AbortSignal
  maxResults?: number
}

/** A typed failure from the engine; the HTTP layer maps `kind` to a status in one place. */
export class EngineError extends Error {
  constructor(
    readonly kind: EngineErrorKind,
    message: string,
    readonly grpcCode?: number,
  ) {
    super(message)
    this.name = 'EngineError'
  }
}

/** One revision's relationship changes, from SpiceDB's Watch. */
export interface ChangeBatch {
  /** the ZedToken the changes are current through; resume after it */
  token: string
  changes: { operation: UpdateOperation; relationship: Relationship }[]
}

export interface WatchOptions {
  /** resource types to watch; all when absent */
  types?: string[]
  /** a ZedToken: only changes after it */
  after?: string
}

/** What an export reads: the named resource types, exactly at one revision. */
export interface ExportOptions {
  /** resource types, exported one after the other */
  types: string[]
  /** the ZedToken of the revision every page is read at (SpiceDB's at_exact_snapshot) */
  at: string
  signal?: AbortSignal
}

export interface EnginePort {
  /** a short description for logs and /readyz, e.g. "embedded" or "remote (2 endpoints)" */
  readonly description: string
  readSchema(): Promise<string | undefined>
  writeSchema(schema: string): Promise<void>
  check(items: CheckItem[], consistency: Consistency): Promise<CheckAnswer>
  checkWithTrace(item: CheckItem, consistency: Consistency, opts?: CallOptions): Promise<{ result: CheckResult; checkedAt: string; trace?: TraceNode }>
  lookupResources(
    req: LookupResourcesRequest,
    consistency: Consistency,
    opts?: CallOptions,
  ): Promise<{ resources: LookupHit[]; cursor?: string; lookedUpAt?: string }>
  lookupSubjects(req: LookupSubjectsRequest, consistency: Consistency, opts?: CallOptions): Promise<{ subjects: LookupHit[]; lookedUpAt?: string }>
  expand(resource: ObjectRef, permission: string, consistency: Consistency, opts?: CallOptions): Promise<{ tree: ExpandTree; expandedAt: string }>
  readRelationships(filter: RelationshipFilter, page: { limit?: number; cursor?: string }, consistency: Consistency, opts?: CallOptions): Promise<ReadPage>
  writeRelationships(updates: RelationshipUpdate[], preconditions?: Precondition[]): Promise<string>
  deleteRelationships(filter: RelationshipFilter, preconditions?: Precondition[]): Promise<{ deletedAt: string; count: number }>
  /** a ZedToken for the engine's current head revision (SpiceDB may answer a slightly stale one) */
  headToken(): Promise<string>
  /**
   * Only on an engine that is its datastore's only writer (the embedded in-memory one): the
   * token of the newest write made through it, which is therefore the head; undefined before
   * the first. Every write of every gateway on this engine object counts.
   */
  newestWrite?(): string | undefined
  /**
   * How far back a read at an exact snapshot may go (the datastore's GC window), when the
   * adapter knows it (the embedded engine); a remote server's is its `--datastore-gc-window`.
   */
  readonly historyWindowMs?: number
  /** SpiceDB's Watch: change batches as they are committed, until `signal` aborts */
  watch?(opts: WatchOptions, signal: AbortSignal): AsyncIterable<ChangeBatch>
  /**
   * SpiceDB's ExportBulkRelationships: pages of relationships as the engine streams them. The
   * stream is read only as fast as the consumer takes pages (gRPC flow control), so memory
   * stays one page whatever the size; aborting `signal` cancels it.
   */
  exportRelationships?(opts: ExportOptions): AsyncIterable<Relationship[]>
  /**
   * SpiceDB's ImportBulkRelationships: every page in one transaction, no invariants, no
   * preconditions; refused (`failed_precondition`) when any relationship already exists, and
   * then nothing is written. `importedAt` is a head token taken after it.
   */
  importRelationships?(pages: AsyncIterable<Relationship[]>): Promise<{ count: number; importedAt: string }>
  /** cheap liveness of the engine: resolves when it answers */
  ping(): Promise<void>
  close(): Promise<void>
}
