/**
 * The narrow slice of SpiceDB's v1 API that the engine uses. The embedded adapter serves it
 * over FFI and a local socket, the remote adapter over gRPC; everything above speaks only this.
 */
import type { v1 } from '@authzed/authzed-node'
import type { WatchCall } from './watch.js'
import { EngineError, type CallOptions, type EngineErrorKind } from './port.js'

/** SpiceDB's methods as the transports serve them (types only). */
export interface SpiceApi {
  checkPermission(req: v1.CheckPermissionRequest): Promise<v1.CheckPermissionResponse>
  checkBulkPermissions(req: v1.CheckBulkPermissionsRequest): Promise<v1.CheckBulkPermissionsResponse>
  expandPermissionTree(req: v1.ExpandPermissionTreeRequest): Promise<v1.ExpandPermissionTreeResponse>
  writeRelationships(req: v1.WriteRelationshipsRequest): Promise<v1.WriteRelationshipsResponse>
  deleteRelationships(req: v1.DeleteRelationshipsRequest): Promise<v1.DeleteRelationshipsResponse>
  readSchema(req: v1.ReadSchemaRequest): Promise<v1.ReadSchemaResponse>
  writeSchema(req: v1.WriteSchemaRequest): Promise<v1.WriteSchemaResponse>
  readRelationships(req: v1.ReadRelationshipsRequest): Promise<v1.ReadRelationshipsResponse[]>
  lookupResources(req: v1.LookupResourcesRequest): Promise<v1.LookupResourcesResponse[]>
  lookupSubjects(req: v1.LookupSubjectsRequest): Promise<v1.LookupSubjectsResponse[]>
}

export type Method = keyof SpiceApi
export type Req<M extends Method> = Parameters<SpiceApi[M]>[0]
export type Res<M extends Method> = Awaited<ReturnType<SpiceApi[M]>>

export interface SpiceTransport {
  call<M extends Method>(method: M, req: Req<M>, opts?: CallOptions): Promise<Res<M>>
  /** opens SpiceDB's Watch server stream (no deadline: it lives as long as its reader) */
  watch?(req: v1.WatchRequest): WatchCall
  /** a gRPC client without per-call deadline, for bulk import and export streams that last as long as the data */
  bulkClient?(): v1.ZedClientInterface
  close(): Promise<void>
}

// gRPC status codes, by number (grpc-js) and by name (Go's status text over FFI).
const KIND_BY_CODE: Record<number, EngineErrorKind> = {
  1: 'unavailable', // CANCELLED
  3: 'invalid_argument',
  4: 'unavailable', // DEADLINE_EXCEEDED
  5: 'not_found',
  6: 'failed_precondition', // ALREADY_EXISTS: a `create` of an existing relationship
  8: 'unavailable', // RESOURCE_EXHAUSTED
  9: 'failed_precondition',
  10: 'failed_precondition', // ABORTED: conflicting concurrent write
  11: 'invalid_argument', // OUT_OF_RANGE
  12: 'invalid_argument', // UNIMPLEMENTED
  14: 'unavailable',
  16: 'unavailable', // UNAUTHENTICATED: a gateway misconfiguration, not the caller's fault
}

const CODE_BY_NAME: Record<string, number> = {
  Canceled: 1,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Unavailable: 14,
  Unauthenticated: 16,
}

/** Turns whatever a transport threw into an EngineError; unknown failures are `internal`. */
export function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err
  const e = err as { code?: unknown; details?: unknown; message?: unknown }
  const message = String(e?.message ?? err)
  let code = typeof e?.code === 'number' ? e.code : undefined
  let detail = typeof e?.details === 'string' && e.details ? e.details : message
  if (code === undefined) {
    // Go's status text over FFI: "rpc error: code = InvalidArgument desc = ..."
    const m = /code = (\w+) desc = ([\s\S]*)$/.exec(message)
    if (m) {
      code = CODE_BY_NAME[m[1] ?? '']
      detail = m[2] ?? message
    }
  }
  const kind = code !== undefined ? (KIND_BY_CODE[code] ?? 'internal') : 'internal'
  return new EngineError(kind, detail, code)
}

/** SpiceDB's server-streaming methods among those the engine uses */
const STREAMED = new Set<Method>(['readRelationships', 'lookupResources', 'lookupSubjects'])

export const callerGone = () => new EngineError('cancelled', 'the caller closed its connection before the answer')

/**
 * Runs one call with a deadline, turning every failure into an EngineError. When `signal`
 * aborts (the caller left), it stops waiting at once; the transport cancels the call where it
 * can (gRPC), an FFI call runs out on its own.
 */
export async function withDeadline<T>(fn: () => Promise<T>, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) throw callerGone()
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EngineError('unavailable', `engine did not answer within ${timeoutMs} ms`)), timeoutMs)
    if (signal) {
      onAbort = () => reject(callerGone())
      signal.addEventListener('abort', onAbort, { once: true })
    }
  })
  try {
    return await Promise.race([fn(), deadline])
  } catch (err) {
    throw toEngineError(err)
  } finally {
    clearTimeout(timer)
    if (onAbort) signal?.removeEventListener('abort', onAbort)
  }
}

interface Cancellable {
  cancel(): void
}
type Callback = (err: unknown, res: unknown) => void
type StreamingMethod = (req: unknown) => Cancellable & NodeJS.EventEmitter
type UnaryMethod = (req: unknown, cb: Callback) => Cancellable

/**
 * One call on a gRPC client of SpiceDB, cancellable: when `signal` aborts, the call or stream is
 * cancelled (SpiceDB stops its work on CANCELLED) and the promise rejects with `cancelled` at
 * once. A stream that would bring more than `maxResults` items is cancelled there and rejects
 * with `too_large`, so a caller's unbounded question costs bounded memory and engine time.
 */
export function callGrpc<M extends Method>(client: v1.ZedClientInterface, method: M, req: Req<M>, opts: CallOptions = {}): Promise<Res<M>> {
  const { signal, maxResults } = opts
  if (signal?.aborted) return Promise.reject(callerGone())
  const api = client as unknown as Record<string, unknown>
  return new Promise<Res<M>>((resolve, reject) => {
    let settled = false
    let call: Cancellable | undefined
    const settle = (fn: () => void) => {
      if (settled) return
      settled = true
      signal?.removeEventListener('abort', onAbort)
      fn()
    }
    const onAbort = () => {
      settle(() => reject(callerGone()))
      call?.cancel()
    }
    if (STREAMED.has(method)) {
      const items: unknown[] = []
      const stream = (api[method] as StreamingMethod)(req)
      call = stream
      stream.on('data', (item: unknown) => {
        items.push(item)
        if (maxResults !== undefined && items.length > maxResults) {
          settle(() => reject(new EngineError('too_large', `the answer holds more than ${maxResults} results`)))
          stream.cancel()
        }
      })
      stream.on('end', () => settle(() => resolve(items as Res<M>)))
      stream.on('error', (err: unknown) => settle(() => reject(err)))
    } else {
      call = (api[method] as UnaryMethod)(req, (err, res) => settle(() => (err ? reject(err) : resolve(res as Res<M>))))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
