/**
 * OpenTelemetry traces, off unless the standard variables ask for them: OTEL_TRACES_EXPORTER
 * `otlp` or `console`, or an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none
 * keep them off. The exporter reads its own OTEL_EXPORTER_OTLP_* settings, the provider the
 * sampler (OTEL_TRACES_SAMPLER) and OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES.
 *
 * When on: a server span per request, its parent the caller's W3C `traceparent`, named by the
 * route pattern; the handler runs inside it, so each engine call's span (engine/instrumented.ts)
 * is its child and SpiceDB joins the trace. When off, no hook is added and `app.tracer` is
 * undefined: nothing is spent per request.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  defaultTextMapGetter,
  trace,
  type Context,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace-node'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources'

declare module 'fastify' {
  interface FastifyInstance {
    /** undefined when tracing is off */
    tracer?: Tracer
  }
  interface FastifyRequest {
    traceSpan?: { span: Span; context: Context }
  }
}

export interface TracingOptions {
  /** a provider of the caller's (tests: an in-memory exporter); otherwise from OTEL_* */
  tracerProvider?: TracerProvider
  env?: NodeJS.ProcessEnv
}

/** which exporter the standard variables ask for; undefined: tracing off */
export function tracesExporterFromEnv(env: NodeJS.ProcessEnv): 'otlp' | 'console' | undefined {
  if (env.OTEL_SDK_DISABLED === 'true') return undefined
  const named = env.OTEL_TRACES_EXPORTER?.split(',').map((s) => s.trim())
  if (named?.includes('none')) return undefined
  if (named?.includes('console')) return 'console'
  if (named?.includes('otlp') || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return 'otlp'
  return undefined
}

function providerFromEnv(env: NodeJS.ProcessEnv): NodeTracerProvider | undefined {
  const kind = tracesExporterFromEnv(env)
  if (!kind) return undefined
  const exporter: SpanExporter = kind === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter()
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': 'trellis-gateway' }))
    .merge(detectResources({ detectors: [envDetector] }))
  return new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] })
}

const propagator = new W3CTraceContextPropagator()

async function tracingPlugin(app: FastifyInstance, opts: TracingOptions) {
  const owned = opts.tracerProvider ? undefined : providerFromEnv(opts.env ?? process.env)
  const provider = opts.tracerProvider ?? owned
  app.decorate('tracer', undefined)
  if (!provider) return
  // Spans follow the request through awaits only with a context manager; one per process.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  const tracer = provider.getTracer('trellis-gateway')
  app.tracer = tracer
  app.decorateRequest('traceSpan', undefined)
  if (owned) app.addHook('onClose', async () => owned.shutdown())

  app.addHook('onRequest', async (req) => {
    const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter)
    const route = req.routeOptions.url
    const span = tracer.startSpan(
      route ? `${req.method} ${route}` : req.method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'url.path': req.url.split('?')[0], ...(route ? { 'http.route': route } : {}) },
      },
      parent,
    )
    req.traceSpan = { span, context: trace.setSpan(parent, span) }
  })
  const end = (req: FastifyRequest, status?: number) => {
    const held = req.traceSpan
    if (!held) return
    req.traceSpan = undefined
    if (status !== undefined) held.span.setAttribute('http.response.status_code', status)
    if (status === undefined || status >= 500) held.span.setStatus({ code: SpanStatusCode.ERROR })
    held.span.end()
  }
  app.addHook('onResponse', async (req, reply) => end(req, reply.statusCode))
  app.addHook('onRequestAbort', async (req) => end(req))

  // The handler runs in the request's span, so the engine calls it makes are its children.
  app.addHook('onRoute', (route) => {
    const handler = route.handler
    route.handler = function traced(this: FastifyInstance, req, reply) {
      const held = req.traceSpan
      return held ? context.with(held.context, () => handler.call(this, req, reply)) : handler.call(this, req, reply)
    }
  })
}

export default fp(tracingPlugin, { name: 'tracing' })
