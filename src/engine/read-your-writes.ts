/**
 * Read-your-writes for every reader of the engine, with no bookkeeping by callers.
 *
 * Every write's ZedToken goes to the ZedTokenStore before the write is acknowledged. Every
 * read then asks SpiceDB for a revision that covers all of them:
 * - the gateway's default (`at_least_as_fresh` without a token) becomes `at_least_as_fresh`
 *   with a token covering the store's frontier (and `fully_consistent` while nothing was
 *   written yet);
 * - a caller's `at_least_as_fresh` token is combined with the frontier the same way;
 * - `fully_consistent` is sent as asked, and the answer's revision is checked against the
 *   frontier: SpiceDB v1.54 shares one in-flight head-revision lookup between fully consistent
 *   requests, so it can answer from before the write (issue 7 item 2). A stale or unverifiable
 *   answer is asked again `at_least_as_fresh` with the covering token;
 * - `minimize_latency` is the caller's explicit choice of speed over freshness and is left alone.
 *
 * When the frontier holds several tokens (Postgres writes that committed concurrently), no
 * single one covers the rest, so the engine is asked for its head token and the answer is
 * verified to cover them all (a stale one, from the shared lookup, is asked for again). The
 * verified token is recorded, which collapses the frontier for every later read.
 */
import { EngineError, type CheckItem, type Consistency, type EnginePort, type LookupResourcesRequest, type LookupSubjectsRequest, type ObjectRef, type Precondition, type RelationshipFilter, type RelationshipUpdate } from './port.js'
import { coversToken, splitFrontier, type ZedTokenStore } from '../stores/zedtoken-store.js'

const HEAD_ATTEMPTS = 5

/** How a read goes: the consistency to ask with, and the token its answer must cover (if any). */
interface Plan {
  consistency: Consistency
  mustCover?: string
}

export class ReadYourWritesEngine implements EnginePort {
  readonly description: string
  private head?: Promise<string>

  constructor(
    /** the adapter underneath (a gateway built on another's engine wraps this, not the wrapper) */
    readonly inner: EnginePort,
    readonly tokens: ZedTokenStore,
  ) {
    this.description = inner.description
  }

  private async storeCall<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw new EngineError('unavailable', `zedtoken store (${this.tokens.description}) failed ${what}: ${(err as Error).message}`)
    }
  }

  /** a token covering every given one: the newest when one covers all, else a verified head */
  private async covering(required: string[]): Promise<string> {
    const { frontier } = splitFrontier(required)
    if (frontier.length === 1) return frontier[0]!
    for (let attempt = 0; attempt < HEAD_ATTEMPTS; attempt++) {
      // Concurrent readers share one head lookup; each verifies the answer for itself.
      const head = await (this.head ??= this.inner.headToken().finally(() => (this.head = undefined)))
      if (frontier.every((t) => coversToken(head, t))) {
        await this.storeCall(() => this.tokens.record(head), 'to record a covering token')
        return head
      }
    }
    throw new EngineError('unavailable', `engine head revision did not cover the gateway's writes after ${HEAD_ATTEMPTS} attempts`)
  }

  private async plan(c: Consistency): Promise<Plan> {
    if (c.mode === 'minimize_latency') return { consistency: c }
    const required = [...(await this.storeCall(() => this.tokens.frontier(), 'to read'))]
    if (c.mode === 'at_least_as_fresh' && c.token) required.push(c.token)
    if (required.length === 0) return { consistency: c.mode === 'at_least_as_fresh' && c.token ? c : { mode: 'fully_consistent' } }
    const token = await this.covering(required)
    if (c.mode === 'fully_consistent') return { consistency: c, mustCover: token }
    return { consistency: { mode: 'at_least_as_fresh', token } }
  }

  /** Runs a read as planned; a fully consistent answer older than the frontier is asked again. */
  private async read<T>(c: Consistency, run: (c: Consistency) => Promise<T>, at: (r: T) => string | undefined): Promise<T> {
    const { consistency, mustCover } = await this.plan(c)
    const answer = await run(consistency)
    if (!mustCover) return answer
    const answeredAt = at(answer)
    if (answeredAt && coversToken(answeredAt, mustCover)) return answer
    return run({ mode: 'at_least_as_fresh', token: mustCover })
  }

  private async recorded<T>(write: Promise<T>, token: (r: T) => string): Promise<T> {
    const res = await write
    await this.storeCall(() => this.tokens.record(token(res)), 'to record a write (the write itself was applied)')
    return res
  }

  readSchema() {
    return this.inner.readSchema()
  }
  writeSchema(schema: string) {
    return this.inner.writeSchema(schema)
  }
  headToken() {
    return this.inner.headToken()
  }
  ping() {
    return this.inner.ping()
  }
  close() {
    return this.inner.close()
  }

  check(items: CheckItem[], c: Consistency) {
    return this.read(c, (x) => this.inner.check(items, x), (r) => r.checkedAt)
  }
  checkWithTrace(item: CheckItem, c: Consistency) {
    return this.read(c, (x) => this.inner.checkWithTrace(item, x), (r) => r.checkedAt)
  }
  lookupResources(req: LookupResourcesRequest, c: Consistency) {
    return this.read(c, (x) => this.inner.lookupResources(req, x), (r) => r.lookedUpAt)
  }
  lookupSubjects(req: LookupSubjectsRequest, c: Consistency) {
    return this.read(c, (x) => this.inner.lookupSubjects(req, x), (r) => r.lookedUpAt)
  }
  expand(resource: ObjectRef, permission: string, c: Consistency) {
    return this.read(c, (x) => this.inner.expand(resource, permission, x), (r) => r.expandedAt)
  }
  readRelationships(filter: RelationshipFilter, page: { limit?: number; cursor?: string }, c: Consistency) {
    return this.read(c, (x) => this.inner.readRelationships(filter, page, x), (r) => r.readAt)
  }

  writeRelationships(updates: RelationshipUpdate[], preconditions?: Precondition[]) {
    return this.recorded(this.inner.writeRelationships(updates, preconditions), (t) => t)
  }
  deleteRelationships(filter: RelationshipFilter, preconditions?: Precondition[]) {
    return this.recorded(this.inner.deleteRelationships(filter, preconditions), (r) => r.deletedAt)
  }
}
