/**
 * Remote adapter: one or more SpiceDB servers over gRPC (@authzed/authzed-node).
 *
 * With several endpoints (servers of one cluster, sharing a datastore) calls are spread over
 * the healthy ones. A call that fails because its server is unreachable marks that endpoint
 * down for a short backoff and is retried on the next one; every other failure is the
 * answer. When no endpoint answers, the call fails as `unavailable`: never an allow.
 *
 * Writes are retried only on UNAVAILABLE, which grpc-js reports when the request could not be
 * sent or the connection dropped. In the second case the first server may have committed the
 * write before dying, so a retry can meet its own earlier write: `touch` and `delete` are
 * idempotent and succeed; `create` fails with ALREADY_EXISTS and a `must_not_match`
 * precondition fails, i.e. the caller sees an error for a write that took place (never the
 * reverse). Writes are not retried after DEADLINE_EXCEEDED, when the server most likely got
 * them.
 */
import { deadlineInterceptor, v1 } from '@authzed/authzed-node'
import { SpiceDbEngine } from './spicedb-engine.js'
import { traceContextInterceptor } from './trace-context.js'
import { callGrpc, type Method, type Req, type Res, type SpiceTransport } from './transport.js'
import type { CallOptions } from './port.js'
import { requestIdInterceptor } from './request-context.js'
import { backoffMs } from '../timing.js'

export interface RemoteOptions {
  endpoints: string[]
  presharedKey: string
  insecure: boolean
  timeoutMs: number
  /** how long an unreachable endpoint is skipped; doubles while it stays down (default 1000) */
  backoffMs?: number
}

const UNAVAILABLE = 14
const DEADLINE_EXCEEDED = 4
const MAX_BACKOFF_MS = 15_000

const WRITES = new Set<Method>(['writeRelationships', 'deleteRelationships', 'writeSchema'])

/**
 * gRPC channel options. grpc-js reconnects a dropped channel after 1 s, then 1.6x more each
 * time up to 120 s, and fails calls at once meanwhile: a server restarted in 2-3 s was
 * reachable again ~4 s before checks were. A 100 ms first backoff capped at 1 s brings
 * checks back within about a second of the server. Keepalive pings detect a silently dead
 * connection (host lost, no RST); 5 min between pings and none without calls is what a gRPC
 * server's default enforcement allows (more often and it answers GOAWAY too_many_pings).
 */
export const CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.keepalive_time_ms': 300_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 0,
} as const

class Endpoint {
  readonly client: v1.ZedClientInterface
  private watcher?: v1.ZedClientInterface
  downUntil = 0
  failures = 0

  constructor(
    readonly address: string,
    opts: RemoteOptions,
    attemptMs: number,
  ) {
    const security = opts.insecure ? v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS : v1.ClientSecurity.SECURE
    // A per-attempt deadline, so a hung server leaves time to try the next one.
    this.client = v1.NewClient(opts.presharedKey, address, security, undefined, {
      ...CHANNEL_OPTIONS,
      interceptors: [requestIdInterceptor, deadlineInterceptor(attemptMs), traceContextInterceptor],
    })
  }

  /** a client without the per-call deadline, for Watch streams that live as long as their reader */
  watchClient(opts: RemoteOptions): v1.ZedClientInterface {
    const security = opts.insecure ? v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS : v1.ClientSecurity.SECURE
    this.watcher ??= v1.NewClient(opts.presharedKey, this.address, security, undefined, { interceptors: [requestIdInterceptor] })
    return this.watcher
  }

  close() {
    this.client.close()
    this.watcher?.close()
  }
}

function retryable(method: Method, err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  if (code === UNAVAILABLE) return true
  return code === DEADLINE_EXCEEDED && !WRITES.has(method)
}

class FailoverTransport implements SpiceTransport {
  private readonly endpoints: Endpoint[]
  private readonly backoffMs: number
  private next = 0

  constructor(private readonly opts: RemoteOptions) {
    if (opts.endpoints.length === 0) throw new Error('remote engine needs at least one endpoint')
    const attemptMs = Math.max(250, Math.floor(opts.timeoutMs / opts.endpoints.length))
    this.endpoints = opts.endpoints.map((a) => new Endpoint(a, opts, attemptMs))
    this.backoffMs = opts.backoffMs ?? 1000
  }

  /** Healthy endpoints in round-robin order, then those in backoff as a last resort. */
  private order(): Endpoint[] {
    const n = this.endpoints.length
    const start = this.next++ % n
    const rotated = this.endpoints.map((_, i) => this.endpoints[(start + i) % n]!)
    const now = Date.now()
    return [...rotated.filter((e) => e.downUntil <= now), ...rotated.filter((e) => e.downUntil > now)]
  }

  async call<M extends Method>(method: M, req: Req<M>, opts?: CallOptions): Promise<Res<M>> {
    let last: unknown
    for (const ep of this.order()) {
      try {
        const res = await callGrpc(ep.client, method, req, opts)
        ep.failures = 0
        ep.downUntil = 0
        return res
      } catch (err) {
        if (!retryable(method, err)) throw err
        last = err
        ep.failures++
        ep.downUntil = Date.now() + backoffMs(ep.failures, this.backoffMs, MAX_BACKOFF_MS)
      }
    }
    throw last
  }

  /** a watch goes to the first healthy endpoint; a reader that loses it resumes from its last token */
  watch(req: v1.WatchRequest) {
    return this.order()[0]!.watchClient(this.opts).watch(req)
  }

  /** bulk streams go to the first healthy endpoint, without the per-attempt deadline */
  bulkClient() {
    return this.order()[0]!.watchClient(this.opts)
  }

  async close() {
    for (const ep of this.endpoints) ep.close()
  }
}

export function createRemoteEngine(opts: RemoteOptions): SpiceDbEngine {
  const n = opts.endpoints.length
  const description = n === 1 ? `remote (${opts.endpoints[0]})` : `remote (${n} endpoints: ${opts.endpoints.join(', ')})`
  return new SpiceDbEngine(new FailoverTransport(opts), { description, timeoutMs: opts.timeoutMs })
}
