/**
 * EnginePort over SpiceDB's v1 protocol. Adapters differ only in the transport they hand in.
 */
import { v1 } from '@authzed/authzed-node'
import { CheckCoalescer } from './speed/check-coalescer.js'
import { DecisionCache } from './speed/decision-cache.js'
import {
  EngineError,
  type CallOptions,
  type CheckAnswer,
  type CheckItem,
  type CheckResult,
  type Consistency,
  type EnginePort,
  type LookupResourcesRequest,
  type LookupSubjectsRequest,
  type ObjectRef,
  type Precondition,
  type RelationshipFilter,
  type RelationshipUpdate,
  type ChangeBatch,
  type ExportOptions,
  type Relationship,
  type WatchOptions,
} from './port.js'
import { BulkTransfer } from './bulk.js'
import { changeBatches, watchRequest } from './watch.js'
import * as pb from './proto.js'
import * as rq from './requests.js'
import { withDeadline, type SpiceTransport } from './transport.js'
import { compareTokens, decodeZedToken } from './consistency/revision.js'
import { coversToken } from './consistency/zedtoken-store.js'

const HEAD = Object.freeze({ mode: 'fully_consistent' as const })

export interface SpiceDbEngineOptions {
  description: string
  /** per-call deadline; a call that outlives it fails as `unavailable` */
  timeoutMs: number
  maxBatch?: number
  /**
   * keep check answers until the next write, at most this many (decision-cache.ts); only for an
   * engine no other process writes to (the embedded in-memory datastore)
   */
  decisionCacheMax?: number
  /** no other process writes to the datastore: the engine offers `newestWrite` (EnginePort) */
  soleWriter?: boolean
  /** how far back the datastore reads (its GC window), when known (EnginePort) */
  historyWindowMs?: number
}

export class SpiceDbEngine implements EnginePort {
  readonly description: string
  private readonly coalescer: CheckCoalescer
  /** present when answers are kept until the next write */
  readonly decisionCache?: DecisionCache
  readonly newestWrite?: () => string | undefined
  readonly historyWindowMs?: number
  private newest?: string
  private readonly bulk: BulkTransfer

  constructor(
    private readonly transport: SpiceTransport,
    private readonly opts: SpiceDbEngineOptions,
  ) {
    this.description = opts.description
    this.historyWindowMs = opts.historyWindowMs
    if (opts.soleWriter) this.newestWrite = () => this.newest
    this.coalescer = new CheckCoalescer((items, c) => this.bulkCheck(items, c), opts.maxBatch)
    if (opts.decisionCacheMax) this.decisionCache = new DecisionCache(opts.decisionCacheMax)
    this.bulk = new BulkTransfer(() => transport.bulkClient?.(), this)
  }

  /** one transport call under the deadline; a failure drops kept answers (fail closed) */
  private async call<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await withDeadline(fn, this.opts.timeoutMs, signal)
    } catch (err) {
      // an engine in trouble is asked again, not answered for from kept answers
      if (err instanceof EngineError && (err.kind === 'unavailable' || err.kind === 'internal')) this.decisionCache?.drop()
      throw err
    }
  }

  async readSchema(): Promise<string | undefined> {
    try {
      const res = await this.call(() => this.transport.call('readSchema', v1.ReadSchemaRequest.create({})))
      return res.schemaText
    } catch (err) {
      if (err instanceof EngineError && err.kind === 'not_found') return undefined
      throw err
    }
  }

  /**
   * A write: kept check answers are dropped, and none is kept while it runs. Wrapped around the
   * transport call itself, inside the deadline: a write whose caller gave up (timeout) may still
   * land later (an FFI call cannot be cancelled), so it counts as running until the transport
   * returns, and its end drops whatever was kept meanwhile. On a sole writer its token is noted
   * as the newest write at the same moment, when the engine returns, for the same reason.
   */
  private writing<T>(write: () => Promise<T>, token?: (r: T) => string): Promise<T> {
    const run = this.newestWrite && token ? () => write().then((r) => (this.noteWrite(token(r)), r)) : write
    return this.decisionCache ? this.decisionCache.writing(run, token) : run()
  }

  private noteWrite(token: string) {
    if (!token) return
    if (!this.newest || compareTokens(decodeZedToken(token), decodeZedToken(this.newest)) === 'after') this.newest = token
  }

  async writeSchema(schema: string): Promise<void> {
    // The schema write moves the revision too: a read must not be answered with the old schema.
    await this.call(() =>
      this.writing(
        () => this.transport.call('writeSchema', v1.WriteSchemaRequest.create({ schema })),
        (r) => pb.token(r.writtenAt),
      ),
    )
  }

  check(items: CheckItem[], consistency: Consistency): Promise<CheckAnswer> {
    // kept answers are of the current state; a read of the past goes to the engine
    if (!this.decisionCache || consistency.mode === 'at_exact_snapshot') return this.current(items, consistency)
    return this.decisionCache.check(items, consistency, (missing) => this.current(missing, consistency))
  }

  /**
   * On an engine that is its datastore's only writer, a fully consistent answer from before the
   * newest write is asked again at least as fresh as that write. SpiceDB shares one in-flight
   * head-revision lookup between fully consistent requests, so a check made right after a write
   * returned can be answered at the revision before it (docs/consistency.md). The gateway's
   * read-your-writes layer catches that too, but the engine alone must not answer it: with calls
   * in process (no transport between a write's return and the next check) the engine alone
   * answered 1 to 3 of 600 checks after a write from before it.
   */
  private async current(items: CheckItem[], consistency: Consistency): Promise<CheckAnswer> {
    const answer = await this.coalescer.check(items, consistency)
    const newest = consistency.mode === 'fully_consistent' ? this.newestWrite?.() : undefined
    if (!newest || coversToken(answer.checkedAt, newest)) return answer
    return this.coalescer.check(items, { mode: 'at_least_as_fresh', token: newest })
  }

  private async bulkCheck(items: CheckItem[], consistency: Consistency): Promise<CheckAnswer> {
    const res = await this.call(() => this.transport.call('checkBulkPermissions', rq.checkBulk(items, consistency)))
    return { results: pb.checkResults(res, items.length), checkedAt: pb.token(res.checkedAt) }
  }

  async checkWithTrace(item: CheckItem, consistency: Consistency, opts?: CallOptions) {
    const res = await this.call(() => this.transport.call('checkPermission', rq.checkTraced(item, consistency), opts), opts?.signal)
    const result: CheckResult = { permissionship: pb.permissionship(res.permissionship) }
    const missing = res.partialCaveatInfo?.missingRequiredContext
    if (missing?.length) result.missingContext = missing
    const trace = res.debugTrace?.check as pb.DebugTrace | undefined
    return { result, checkedAt: pb.token(res.checkedAt), trace: trace ? pb.traceNode(trace) : undefined }
  }

  async lookupResources(req: LookupResourcesRequest, consistency: Consistency, opts?: CallOptions) {
    const stream = await this.call(() => this.transport.call('lookupResources', rq.lookupResources(req, consistency), opts), opts?.signal)
    return pb.lookedUpResources(stream, req.limit)
  }

  async lookupSubjects(req: LookupSubjectsRequest, consistency: Consistency, opts?: CallOptions) {
    const stream = await this.call(() => this.transport.call('lookupSubjects', rq.lookupSubjects(req, consistency), opts), opts?.signal)
    return pb.lookedUpSubjects(stream)
  }

  async expand(resource: ObjectRef, permission: string, consistency: Consistency, opts?: CallOptions) {
    const res = await this.call(() => this.transport.call('expandPermissionTree', rq.expand(resource, permission, consistency), opts), opts?.signal)
    return { tree: pb.expandTree(res.treeRoot), expandedAt: pb.token(res.expandedAt) }
  }

  async readRelationships(filter: RelationshipFilter, page: { limit?: number; cursor?: string }, consistency: Consistency, opts?: CallOptions) {
    const stream = await this.call(() => this.transport.call('readRelationships', rq.readRelationships(filter, page, consistency), opts), opts?.signal)
    return rq.readPage(stream, page.limit)
  }

  async writeRelationships(updates: RelationshipUpdate[], preconditions: Precondition[] = []): Promise<string> {
    const request = rq.writeRelationships(updates, preconditions)
    const res = await this.call(() =>
      this.writing(
        () => this.transport.call('writeRelationships', request),
        (r) => pb.token(r.writtenAt),
      ),
    )
    return pb.token(res.writtenAt)
  }

  async deleteRelationships(filter: RelationshipFilter, preconditions: Precondition[] = []) {
    const request = rq.deleteRelationships(filter, preconditions)
    const res = await this.call(() =>
      this.writing(
        () => this.transport.call('deleteRelationships', request),
        (r) => pb.token(r.deletedAt),
      ),
    )
    return { deletedAt: pb.token(res.deletedAt), count: Number(res.relationshipsDeletedCount ?? 0) }
  }

  /**
   * The datastore's head revision: a fully consistent CheckBulkPermissions of no items answers
   * with it (`checkedAt`) and does no other work. ReadSchema, used before, answers with it too
   * but renders the whole schema as text each time: on the embedded engine it cost 6.5 times
   * as much, and the read-your-writes layer asks for the head after every empty fully
   * consistent read (an empty answer says nothing of when it was read).
   */
  async headToken(): Promise<string> {
    const res = await this.call(() => this.transport.call('checkBulkPermissions', rq.checkBulk([], HEAD)))
    if (!res.checkedAt?.token) throw new EngineError('internal', 'engine answered a fully consistent check without a revision')
    return res.checkedAt.token
  }

  watch(opts: WatchOptions, signal: AbortSignal): AsyncIterable<ChangeBatch> {
    const transport = this.transport
    if (!transport.watch) throw new EngineError('invalid_argument', 'this engine cannot watch')
    return changeBatches(() => transport.watch!(watchRequest(opts)), signal)
  }

  exportRelationships(opts: ExportOptions): AsyncIterable<Relationship[]> {
    return this.bulk.export(opts)
  }

  /** a write like any other: kept answers are dropped, and on a sole writer its token is the newest */
  async importRelationships(pages: AsyncIterable<Relationship[]>): Promise<{ count: number; importedAt: string }> {
    return this.writing(
      async () => {
        const count = await this.bulk.import(pages)
        return { count, importedAt: await this.headToken() }
      },
      (r) => r.importedAt,
    )
  }

  async ping(): Promise<void> {
    await this.readSchema()
  }

  close(): Promise<void> {
    this.decisionCache?.drop(true)
    return this.transport.close()
  }
}
