/**
 * The request id of the HTTP request an engine call serves, carried to SpiceDB as gRPC
 * metadata (`x-request-id`), so one request can be followed from the caller through a gateway
 * replica to the SpiceDB node that answered (SpiceDB logs and echoes that header).
 *
 * The id travels in an AsyncLocalStorage rather than through every engine method: a call is
 * made deep below the route (coalesced checks, write groups, invariant reads), and each of
 * those already runs in the request's async context.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { createRequire } from 'node:module'
import type * as Grpc from '@grpc/grpc-js'

const context = new AsyncLocalStorage<{ requestId: string }>()

/** runs `fn` with `requestId` as the current request's id */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return context.run({ requestId }, fn)
}

export function currentRequestId(): string | undefined {
  return context.getStore()?.requestId
}

// grpc-js is authzed-node's own dependency: load the copy it uses, so the interceptor's class
// is the one its clients expect.
const grpc = createRequire(import.meta.resolve('@authzed/authzed-node'))('@grpc/grpc-js') as typeof Grpc

/** a client interceptor that adds the current request's id to each call's metadata */
export const requestIdInterceptor: Grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      const id = currentRequestId()
      if (id) metadata.set('x-request-id', id)
      next(metadata, listener)
    },
  })
