/**
 * The Trellis client. Checks made at the same time are sent together as one bulk check (one
 * HTTP call and one SpiceDB call instead of many); lookups page with the gateway's cursors as
 * async iterators; events are retried on any failure that may not have applied them, which is
 * safe because the gateway applies each event id once; 429 and 503 wait as `retry-after` says.
 */
import { TrellisError, errorFrom } from './errors.js'
import type { SchemaConsistency, SchemaDomainEvent, paths } from './openapi.js'

type Body<P extends keyof paths, M extends 'post' | 'delete'> = paths[P][M] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never
type Ok<P extends keyof paths, M extends 'get' | 'post' | 'delete'> = paths[P][M] extends { responses: { 200: { content: { 'application/json': infer R } } } }
  ? R
  : never

export type Consistency = SchemaConsistency
export type DomainEvent = SchemaDomainEvent
export type CheckQuestion = Body<'/v1/check', 'post'>
export type CheckAnswer = Ok<'/v1/check', 'post'>
export type LookupResourcesQuestion = Omit<Body<'/v1/lookup/resources', 'post'>, 'cursor'>
export type ResourceHit = Ok<'/v1/lookup/resources', 'post'>['resources'][number]
export type LookupSubjectsQuestion = Body<'/v1/lookup/subjects', 'post'>
export type SubjectHit = Ok<'/v1/lookup/subjects', 'post'>['subjects'][number]
export type EventResult = Ok<'/v1/events', 'post'>['results'][number]
export type RelationshipFilter = NonNullable<paths['/v1/relationships']['get']['parameters']['query']>

/** read at least as fresh as a write the caller saw (an event's `writtenAt`, a check's `checkedAt`) */
export const freshAs = (token: string): Consistency => ({ mode: 'at_least_as_fresh', token })

export interface TrellisClientOptions {
  /** the gateway, e.g. http://trellis:8080 */
  baseUrl: string
  /** an API key or an OIDC access token; a function is asked before each request (tokens expire) */
  token?: string | (() => string | Promise<string>)
  fetch?: typeof fetch
  /** per HTTP attempt (default 10 s) */
  timeoutMs?: number
  /** attempts per call for reads and events (default 4); backoff doubles from baseDelayMs up to maxDelayMs */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number }
  /** checks asked within waitMs (default 0: the same tick) share one bulk call of at most maxItems; false: one call each */
  coalesce?: { waitMs?: number; maxItems?: number } | false
  /** events per POST /v1/events (default 100) */
  eventsPerCall?: number
}

/** safe: nothing is lost by asking again (reads, events); rate-limited-only: 429 means not processed */
type RetryPolicy = 'safe' | 'rate-limited-only'

interface Waiting {
  question: CheckQuestion
  resolve: (a: CheckAnswer) => void
  reject: (e: unknown) => void
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export class TrellisClient {
  private readonly base: string
  private readonly fetchFn: typeof fetch
  private readonly attempts: number
  private readonly baseDelayMs: number
  private readonly maxDelayMs: number
  private readonly batches = new Map<string, Waiting[]>()
  /** HTTP calls made, by path (for tests and for a service's own metrics) */
  readonly calls: Record<string, number> = {}

  constructor(private readonly opts: TrellisClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '')
    this.fetchFn = opts.fetch ?? fetch
    this.attempts = Math.max(1, opts.retry?.attempts ?? 4)
    this.baseDelayMs = opts.retry?.baseDelayMs ?? 100
    this.maxDelayMs = opts.retry?.maxDelayMs ?? 5000
  }

  /** May `subject` do `permission` on `resource`? Concurrent calls are coalesced into bulk checks. */
  check(question: CheckQuestion): Promise<CheckAnswer> {
    if (this.opts.coalesce === false) return this.checkAlone(question)
    return new Promise((resolve, reject) => {
      const key = JSON.stringify(question.consistency ?? null)
      const batch = this.batches.get(key) ?? []
      batch.push({ question, resolve, reject })
      if (batch.length === 1) {
        this.batches.set(key, batch)
        const wait = this.opts.coalesce ? (this.opts.coalesce.waitMs ?? 0) : 0
        const flush = () => void this.flush(key, batch)
        if (wait > 0) setTimeout(flush, wait)
        else queueMicrotask(flush)
      }
      if (batch.length >= this.maxItems()) void this.flush(key, batch)
    })
  }

  /** Many checks at once, answered in order (sent as bulk checks, as concurrent `check` calls are). */
  checkMany(questions: CheckQuestion[]): Promise<CheckAnswer[]> {
    return Promise.all(questions.map((q) => this.check(q)))
  }

  /** Every resource of a type the subject holds the permission on, page after page. */
  async *lookupResources(question: LookupResourcesQuestion): AsyncGenerator<ResourceHit> {
    let cursor: string | undefined
    do {
      const page = await this.request<Ok<'/v1/lookup/resources', 'post'>>('POST', '/v1/lookup/resources', { ...question, ...(cursor ? { cursor } : {}) })
      yield* page.resources
      cursor = page.cursor
    } while (cursor)
  }

  /** The subjects of a type that hold the permission (one answer: SpiceDB does not page them). */
  async lookupSubjects(question: LookupSubjectsQuestion): Promise<SubjectHit[]> {
    return (await this.request<Ok<'/v1/lookup/subjects', 'post'>>('POST', '/v1/lookup/subjects', question)).subjects
  }

  /** Relationships matching the filter (`resource:…#relation@subject` strings), page after page. */
  async *relationships(filter: Omit<RelationshipFilter, 'cursor'>): AsyncGenerator<string> {
    let cursor: string | undefined
    do {
      const query = new URLSearchParams(Object.entries({ ...filter, ...(cursor ? { cursor } : {}) }).map(([k, v]) => [k, String(v)]))
      const page = await this.request<Ok<'/v1/relationships', 'get'>>('GET', `/v1/relationships?${query}`)
      yield* page.relationships
      cursor = page.cursor
    } while (cursor)
  }

  /**
   * Sends events in order, `eventsPerCall` per request, each request retried until it is
   * answered: an event applied by an attempt whose answer was lost comes back `duplicate`.
   * A refusal (4xx) stops there: the events before it are applied, its `details` say which.
   */
  async sendEvents(events: DomainEvent | DomainEvent[]): Promise<EventResult[]> {
    const all = Array.isArray(events) ? events : [events]
    const size = this.opts.eventsPerCall ?? 100
    const results: EventResult[] = []
    for (let i = 0; i < all.length; i += size) {
      const answer = await this.request<Ok<'/v1/events', 'post'>>('POST', '/v1/events', { events: all.slice(i, i + size) })
      results.push(...answer.results)
    }
    return results
  }

  private maxItems() {
    return Math.max(1, (this.opts.coalesce && this.opts.coalesce.maxItems) || 100)
  }

  private checkAlone(question: CheckQuestion): Promise<CheckAnswer> {
    return this.request<CheckAnswer>('POST', '/v1/check', question)
  }

  private async flush(key: string, batch: Waiting[]) {
    if (this.batches.get(key) !== batch) return // already sent
    this.batches.delete(key)
    if (batch.length === 1) return settle(batch[0]!, this.checkAlone(batch[0]!.question))
    const consistency = batch[0]!.question.consistency
    const items = batch.map(({ question: { consistency: _, ...item } }) => item)
    try {
      const answer = await this.request<Ok<'/v1/check/bulk', 'post'>>('POST', '/v1/check/bulk', { items, ...(consistency ? { consistency } : {}) })
      answer.results.forEach((r, i) => {
        // an item the gateway could not answer is asked alone, for its own typed error
        if (r.error) return settle(batch[i]!, this.checkAlone(batch[i]!.question))
        const { error: _, ...rest } = r
        batch[i]!.resolve({ ...rest, checkedAt: answer.checkedAt })
      })
    } catch (err) {
      // one malformed question must not fail the others: each is asked alone
      if (err instanceof TrellisError && err.status === 400) for (const w of batch) settle(w, this.checkAlone(w.question))
      else for (const w of batch) w.reject(err)
    }
  }

  /** One call, retried as its policy allows; the answer's JSON, or a TrellisError. */
  async request<T>(method: string, path: string, body?: unknown, policy: RetryPolicy = 'safe'): Promise<T> {
    const route = path.split('?')[0]!
    for (let attempt = 1; ; attempt++) {
      let failure: TrellisError
      try {
        this.calls[route] = (this.calls[route] ?? 0) + 1
        const res = await this.fetchFn(`${this.base}${path}`, {
          method,
          headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(await this.authorization()) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
        })
        if (res.ok) return (await res.json()) as T
        failure = await errorFrom(res)
      } catch (err) {
        if (err instanceof TrellisError) throw err
        failure = new TrellisError(0, 'CLIENT_NETWORK', `no answer from ${this.base}: ${(err as Error).message}`)
      }
      const again = failure.status === 429 || (policy === 'safe' && failure.retryable)
      if (!again || attempt >= this.attempts) throw failure
      const backoff = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
      await sleep(failure.retryAfter !== undefined ? Math.min(this.maxDelayMs, failure.retryAfter * 1000) : backoff)
    }
  }

  private async authorization(): Promise<Record<string, string>> {
    const t = typeof this.opts.token === 'function' ? await this.opts.token() : this.opts.token
    return t ? { authorization: `Bearer ${t}` } : {}
  }
}

function settle(w: Waiting, answer: Promise<CheckAnswer>) {
  answer.then(w.resolve, w.reject)
}
