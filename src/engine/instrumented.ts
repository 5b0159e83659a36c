/**
 * Every call to the engine measured, and traced when tracing is on: a latency histogram by
 * method and outcome, and a client span per call (method, consistency mode, result) that the
 * remote transport hands to SpiceDB as `traceparent` (engine/trace-context.ts), so SpiceDB's
 * own spans join the caller's trace. Without a tracer no span is made at all: the only cost
 * is two clock reads and a histogram observation.
 */
import { SpanKind, SpanStatusCode, context, trace, type Tracer } from '@opentelemetry/api'
import { EngineError, type CheckAnswer, type Consistency, type EnginePort } from './port.js'

/** a histogram labelled (method, outcome), as prom-client's `labels(...)` gives it */
export interface EngineObserver {
  labels(method: string, outcome: string): { observe(seconds: number): void }
}

/** where each method takes its consistency (absent: the method reads none) */
const CONSISTENCY_ARG: Partial<Record<keyof EnginePort, number>> = {
  check: 1,
  checkWithTrace: 1,
  lookupResources: 1,
  lookupSubjects: 1,
  expand: 2,
  readRelationships: 2,
}

const MEASURED = new Set<string>([
  ...Object.keys(CONSISTENCY_ARG),
  'readSchema',
  'writeSchema',
  'writeRelationships',
  'deleteRelationships',
  'headToken',
])

const UNWRAPPED = Symbol('uninstrumented engine')

/** the adapter under the instrumentation (a gateway built on another's engine measures its own calls) */
export const uninstrumented = (engine: EnginePort): EnginePort => (engine as { [UNWRAPPED]?: EnginePort })[UNWRAPPED] ?? engine

/** what a span says the call answered: a single check's permissionship, else `ok` */
function resultOf(method: string, value: unknown): string {
  if (method === 'check') {
    const results = (value as CheckAnswer).results
    if (results.length === 1) return results[0]!.error ? `error:${results[0]!.error.kind}` : results[0]!.permissionship
  }
  return 'ok'
}

export function instrumentEngine(engine: EnginePort, observer: EngineObserver, tracer?: Tracer): EnginePort {
  // one wrapper per method, made once: the hot path allocates nothing but the call's own promise
  const wrappers = new Map<string, (...args: unknown[]) => unknown>()
  return new Proxy(engine, {
    get(target, prop, receiver) {
      if (prop === UNWRAPPED) return target
      const value = Reflect.get(target, prop, receiver) as unknown
      if (typeof value !== 'function') return value
      const fn = value as (...args: unknown[]) => unknown
      if (typeof prop !== 'string' || !MEASURED.has(prop)) return fn.bind(target)
      let wrapper = wrappers.get(prop)
      if (!wrapper) wrappers.set(prop, (wrapper = measure(target, prop, fn, observer, tracer)))
      return wrapper
    },
  })
}

function measure(target: EnginePort, method: string, fn: (...args: unknown[]) => unknown, observer: EngineObserver, tracer?: Tracer) {
  const ok = observer.labels(method, 'ok') // bound once: no label lookup per call
  return (...args: unknown[]) => {
    const started = performance.now()
    const span = tracer?.startSpan(`spicedb ${method}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'rpc.system': 'grpc', 'rpc.service': 'authzed.api.v1', 'trellis.engine.method': method },
    })
    const at = CONSISTENCY_ARG[method as keyof EnginePort]
    if (span && at !== undefined) span.setAttribute('trellis.consistency.mode', (args[at] as Consistency | undefined)?.mode ?? 'fully_consistent')
    const call = () => fn.apply(target, args) as Promise<unknown>
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
        observer.labels(method, kind).observe((performance.now() - started) / 1000)
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
