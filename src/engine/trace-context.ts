/**
 * The W3C trace context of the engine call in progress, sent to SpiceDB as gRPC metadata
 * (`traceparent`, `tracestate`), so a SpiceDB started with --otel-provider makes its spans
 * children of the gateway's. No active span (tracing off): the metadata is left as it is.
 */
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js'
import { context, trace } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'

const propagator = new W3CTraceContextPropagator()

export const traceContextInterceptor: Interceptor = (options, nextCall) =>
  new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      const active = context.active()
      if (trace.getSpan(active)) {
        propagator.inject(active, metadata, { set: (carrier, key, value) => carrier.set(key, value) })
      }
      next(metadata, listener)
    },
  })
