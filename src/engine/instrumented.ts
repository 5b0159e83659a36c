/**
 * Every call to the engine measured, and traced when tracing is on: a latency histogram by
 * method and outcome, and a client span per call (method, consistency mode, result) that the
 * remote transport hands to SpiceDB as `traceparent` (engine/trace-context.ts), so SpiceDB's
 * own spans join the caller's trace. Without a tracer no span is made at all: the only cost
 * is two clock reads and a histogram observation.
 */
import { SpanKind, SpanStatusCode, context, trace, type Tracer } from '@opentelemetry/api'
import { EngineLayer } from './layer.js'
import {
  EngineError,
  type CallOptions,
  type CheckAnswer,
  type CheckItem,
  type Consistency,
  type EnginePort,
  type LookupResourcesRequest,
  type LookupSubjectsRequest,
  type ObjectRef,
  type Precondition,
  type RelationshipFilter,
  type RelationshipUpdate,
} from './port.js'

/** a histogram labelled (method, outcome), as prom-client's `labels(...)` gives it */
export interface EngineObserver {
  labels(method: string, outcome: string): { observe(seconds: number): void }
}

/** what a span says the call answered: a single check's permissionship, else `ok` */
function resultOf(method: string, value: unknown): string {
  if (method === 'check') {
    const results = (value as CheckAnswer).results
    if (results.length === 1) return results[0]!.error ? `error:${results[0]!.error.kind}` : results[0]!.permissionship
  }
  return 'ok'
}

/** a read's consistency as a span names it (absent: the adapter's default, fully consistent) */
const modeOf = (c: Consistency | undefined) => c?.mode ?? 'fully_consistent'

/** The engine with its calls measured (watch, export, import, ping and close pass unmeasured). */
export class InstrumentedEngine extends EngineLayer {
  /** each method's `ok` series, bound on its first call: no label lookup per call after that */
  private readonly ok = new Map<string, { observe(seconds: number): void }>()

  constructor(
    next: EnginePort,
    private readonly observer: EngineObserver,
    private readonly tracer?: Tracer,
  ) {
    super(next)
  }

  override readSchema() {
    return this.measure('readSchema', undefined, () => this.next.readSchema())
  }
  override writeSchema(schema: string) {
    return this.measure('writeSchema', undefined, () => this.next.writeSchema(schema))
  }
  override check(items: CheckItem[], c: Consistency) {
    return this.measure('check', modeOf(c), () => this.next.check(items, c))
  }
  override checkWithTrace(item: CheckItem, c: Consistency, opts?: CallOptions) {
    return this.measure('checkWithTrace', modeOf(c), () => this.next.checkWithTrace(item, c, opts))
  }
  override lookupResources(req: LookupResourcesRequest, c: Consistency, opts?: CallOptions) {
    return this.measure('lookupResources', modeOf(c), () => this.next.lookupResources(req, c, opts))
  }
  override lookupSubjects(req: LookupSubjectsRequest, c: Consistency, opts?: CallOptions) {
    return this.measure('lookupSubjects', modeOf(c), () => this.next.lookupSubjects(req, c, opts))
  }
  override expand(resource: ObjectRef, permission: string, c: Consistency, opts?: CallOptions) {
    return this.measure('expand', modeOf(c), () => this.next.expand(resource, permission, c, opts))
  }
  override readRelationships(filter: RelationshipFilter, page: { limit?: number; cursor?: string }, c: Consistency, opts?: CallOptions) {
    return this.measure('readRelationships', modeOf(c), () => this.next.readRelationships(filter, page, c, opts))
  }
  override writeRelationships(updates: RelationshipUpdate[], preconditions?: Precondition[]) {
    return this.measure('writeRelationships', undefined, () => this.next.writeRelationships(updates, preconditions))
  }
  override deleteRelationships(filter: RelationshipFilter, preconditions?: Precondition[]) {
    return this.measure('deleteRelationships', undefined, () => this.next.deleteRelationships(filter, preconditions))
  }
  override headToken() {
    return this.measure('headToken', undefined, () => this.next.headToken())
  }

  /** `mode`: the consistency the call reads at, for the span (undefined: the method reads none) */
  private measure<T>(method: string, mode: string | undefined, call: () => Promise<T>): Promise<T> {
    let ok = this.ok.get(method)
    if (!ok) this.ok.set(method, (ok = this.observer.labels(method, 'ok')))
    const started = performance.now()
    const span = this.tracer?.startSpan(`spicedb ${method}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'rpc.system': 'grpc', 'rpc.service': 'authzed.api.v1', 'trellis.engine.method': method },
    })
    if (span && mode !== undefined) span.setAttribute('trellis.consistency.mode', mode)
    const running = span ? context.with(trace.setSpan(context.active(), span), call) : call()
    return running.then(
      (answer) => {
        ok.observe((performance.now() - started) / 1000)
        if (span) {
          span.setAttribute('trellis.result', resultOf(method, answer))
          span.end()
        }
        return answer
      },
      (err: unknown) => {
        const kind = err instanceof EngineError ? err.kind : 'internal'
        this.observer.labels(method, kind).observe((performance.now() - started) / 1000)
        if (span) {
          span.setAttribute('trellis.result', `error:${kind}`)
          span.setStatus({ code: SpanStatusCode.ERROR, message: kind })
          span.end()
        }
        throw err
      },
    )
  }
}
