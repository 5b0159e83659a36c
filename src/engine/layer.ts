/**
 * One layer of the engine stack: an EnginePort that delegates every call to the engine below
 * it. Each guarantee the gateway adds to the engine (measurement, `now` only where a caveat
 * reads it, read-your-writes, the audit trail) is a subclass that overrides only the calls it
 * changes; src/gateway.ts stacks them in the order the guarantees apply.
 *
 * The optional capabilities (watch, newestWrite, export, import) are present on a layer exactly
 * when the engine below has them, so `if (engine.watch)` answers the same at every height.
 */
import type {
  CallOptions,
  CheckItem,
  Consistency,
  EnginePort,
  ExportOptions,
  LookupResourcesRequest,
  LookupSubjectsRequest,
  ObjectRef,
  Precondition,
  Relationship,
  RelationshipFilter,
  RelationshipUpdate,
  WatchOptions,
} from './port.js'

export abstract class EngineLayer implements EnginePort {
  readonly description: string
  readonly historyWindowMs?: number
  readonly watch?: EnginePort['watch']
  readonly newestWrite?: EnginePort['newestWrite']
  readonly exportRelationships?: EnginePort['exportRelationships']
  readonly importRelationships?: EnginePort['importRelationships']

  constructor(
    /** the engine under this layer */
    protected readonly next: EnginePort,
  ) {
    this.description = next.description
    this.historyWindowMs = next.historyWindowMs
    if (next.watch) this.watch = (opts, signal) => this.watchChanges(opts, signal)
    if (next.newestWrite) this.newestWrite = () => next.newestWrite!()
    if (next.exportRelationships) this.exportRelationships = (opts) => this.exportPages(opts)
    if (next.importRelationships) this.importRelationships = (pages) => this.importPages(pages)
  }

  /** what `watch` does, where the engine below can watch */
  protected watchChanges(opts: WatchOptions, signal: AbortSignal) {
    return this.next.watch!(opts, signal)
  }
  /** what `exportRelationships` does, where the engine below can export */
  protected exportPages(opts: ExportOptions) {
    return this.next.exportRelationships!(opts)
  }
  /** what `importRelationships` does, where the engine below can import */
  protected importPages(pages: AsyncIterable<Relationship[]>) {
    return this.next.importRelationships!(pages)
  }

  readSchema() {
    return this.next.readSchema()
  }
  writeSchema(schema: string) {
    return this.next.writeSchema(schema)
  }
  check(items: CheckItem[], consistency: Consistency) {
    return this.next.check(items, consistency)
  }
  checkWithTrace(item: CheckItem, consistency: Consistency, opts?: CallOptions) {
    return this.next.checkWithTrace(item, consistency, opts)
  }
  lookupResources(req: LookupResourcesRequest, consistency: Consistency, opts?: CallOptions) {
    return this.next.lookupResources(req, consistency, opts)
  }
  lookupSubjects(req: LookupSubjectsRequest, consistency: Consistency, opts?: CallOptions) {
    return this.next.lookupSubjects(req, consistency, opts)
  }
  expand(resource: ObjectRef, permission: string, consistency: Consistency, opts?: CallOptions) {
    return this.next.expand(resource, permission, consistency, opts)
  }
  readRelationships(filter: RelationshipFilter, page: { limit?: number; cursor?: string }, consistency: Consistency, opts?: CallOptions) {
    return this.next.readRelationships(filter, page, consistency, opts)
  }
  writeRelationships(updates: RelationshipUpdate[], preconditions?: Precondition[]) {
    return this.next.writeRelationships(updates, preconditions)
  }
  deleteRelationships(filter: RelationshipFilter, preconditions?: Precondition[]) {
    return this.next.deleteRelationships(filter, preconditions)
  }
  headToken() {
    return this.next.headToken()
  }
  ping() {
    return this.next.ping()
  }
  close() {
    return this.next.close()
  }
}
