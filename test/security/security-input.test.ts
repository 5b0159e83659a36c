/**
 * Hostile input against the gateway's questions and writes: forged cursors, a clock pinned
 * through a written caveat, contexts the engine chokes on, tautological subjects, limits past
 * the engine's. Each is a 400 naming the field, changes nothing, and costs no engine call.
 */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { post, seed } from '../helpers/http.js'
import { countEngineCalls, deepJson, postRaw, rawBody } from '../helpers/hostile.js'
import { CursorSigner } from '../../src/domain/questions/cursor.js'

const SECTIONS = [
  'program:p1#participant@user:pat',
  ...[0, 1, 2].flatMap((i) => [`section:s${i}#program@program:p1`, `section:s${i}#release@program:p1`]),
  'section:locked#program@program:p1',
  'section:locked#release@program:p1[release_time:{"release_at":"2099-01-01T00:00:00Z"}]',
]

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')

t.test('a lookup cursor cannot choose the clock', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, SECTIONS)
  const ask = (cursor?: string, subject = 'user:pat') =>
    post(app, '/v1/lookup/resources', { resourceType: 'section', permission: 'view', subject, limit: 1, cursor })

  const first = await ask()
  t.equal(first.status, 200)
  t.ok(first.body.cursor, 'a full page carries a cursor')

  const [payload, mac] = first.body.cursor.split('.')
  const page = JSON.parse(Buffer.from(payload, 'base64url').toString())
  const forgeries = {
    'the old unsigned format': b64({ c: '', n: '2100-01-01T00:00:00Z' }),
    'a signed cursor with its clock moved': `${b64({ ...page, n: '2100-01-01T00:00:00Z' })}.${mac}`,
    'a signed cursor with its MAC cut': payload,
    garbage: 'not-a-cursor',
  }
  for (const [what, cursor] of Object.entries(forgeries)) {
    const res = await ask(cursor)
    t.equal(res.status, 400, `${what}: 400`)
    t.equal(res.body.field, 'cursor', `${what}: names cursor`)
  }
  const elsewhere = await ask(first.body.cursor, 'user:other')
  t.equal(elsewhere.status, 400, 'a cursor is refused on another question')

  const seen = first.body.resources.map((r: { id: string }) => r.id)
  let cursor = first.body.cursor
  for (let i = 0; cursor && i < 10; i++) {
    const res = await ask(cursor)
    t.equal(res.status, 200)
    seen.push(...res.body.resources.map((r: { id: string }) => r.id))
    cursor = res.body.cursor
  }
  t.same([...new Set(seen)].sort(), ['s0', 's1', 's2'], 'the genuine cursor pages through released sections only')
})

t.test('cursor signing: replicas sharing a secret agree, a clock ahead of ours is pulled back', async (t) => {
  const now = new Date('2026-01-01T00:00:00Z')
  const a = new CursorSigner('s'.repeat(32))
  const token = a.sign({ c: 'x', n: '2027-01-01T00:00:00Z', q: 'q1' })
  t.same(new CursorSigner('s'.repeat(32)).open(token, 'q1', now), { c: 'x', n: now }, 'another replica opens it, at its own clock')
  const refused = (signer: CursorSigner) => {
    try {
      signer.open(token, 'q1', now)
      return undefined
    } catch (err) {
      return err
    }
  }
  t.match(refused(new CursorSigner('t'.repeat(32))), { statusCode: 400, field: 'cursor' }, 'another secret refuses it')
  t.match(refused(new CursorSigner()), { statusCode: 400, field: 'cursor' }, 'a random per-process key refuses it')
  t.equal(refused(a), undefined, 'the signer opens its own')
})

t.test('a written caveat context may not pin the clock or carry unknown keys', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, ['program:p1#participant@user:pat'])
  const engine = countEngineCalls(app)
  const write = (caveat: string) =>
    post(app, '/v1/relationships', { updates: [{ operation: 'touch', relationship: `section:s9#release@program:p1${caveat}` }] })
  const cases: [string, string, string, string][] = [
    ['`now`', '[release_time:{"now":"2100-01-01T00:00:00Z","release_at":"2099-01-01T00:00:00Z"}]', 'GW_RESERVED_CONTEXT', 'updates.0.relationship.now'],
    ['an unknown key', '[release_time:{"release_at":"2099-01-01T00:00:00Z","x":1}]', 'GW_UNKNOWN_CONTEXT', 'updates.0.relationship.x'],
    ['a wrong type', '[release_time:{"release_at":5}]', 'GW_INVALID_ARGUMENT', 'updates.0.relationship.release_at'],
    ['an unknown caveat', '[no_such_caveat:{"release_at":"2099-01-01T00:00:00Z"}]', 'GW_UNKNOWN_CAVEAT', 'updates.0.relationship'],
  ]
  for (const [what, caveat, code, field] of cases) {
    const res = await write(caveat)
    t.equal(res.status, 400, `${what}: 400`)
    t.equal(res.body.code, code, `${what}: ${code}`)
    t.equal(res.body.field, field, `${what}: names ${field}`)
  }
  t.equal(engine.calls, 0, 'no engine call for any of them')
  const read = await app.inject({ method: 'GET', url: '/v1/relationships?resource=section:s9' })
  t.same(read.json().relationships, [], 'nothing was written')
})

const QUESTION = { resource: 'section:s1', permission: 'view', subject: 'user:pat' }
const ROUTES: [string, (ctx: unknown) => unknown, string][] = [
  ['/v1/check', (context) => ({ ...QUESTION, context }), 'context'],
  ['/v1/check/bulk', (context) => ({ items: [QUESTION, { ...QUESTION, context }] }), 'items.1.context'],
  ['/v1/explain', (context) => ({ ...QUESTION, context }), 'context'],
  ['/v1/lookup/resources', (context) => ({ resourceType: 'section', permission: 'view', subject: 'user:pat', context }), 'context'],
  ['/v1/lookup/subjects', (context) => ({ resource: 'section:s1', permission: 'view', subjectType: 'user', context }), 'context'],
  ['/v1/permissions', (context) => ({ resource: 'section:s1', subject: 'user:pat', context }), 'context'],
]
const CONTEXTS: [string, string, string][] = [
  ['a number that parses to Infinity', '{"release_at":1e400}', 'GW_INVALID_ARGUMENT'],
  ['nesting 20,000 deep', `{"release_at":${deepJson(20000)}}`, 'GW_INVALID_ARGUMENT'],
  ['nesting 9 deep', `{"release_at":${deepJson(9)}}`, 'GW_INVALID_ARGUMENT'],
  ['over 4 KiB', JSON.stringify({ release_at: 'x'.repeat(5000) }), 'GW_INVALID_ARGUMENT'],
  ['an unknown parameter', '{"x":1}', 'GW_UNKNOWN_CONTEXT'],
  ['a parameter of the wrong type', '{"release_at":true}', 'GW_INVALID_ARGUMENT'],
  ['a timestamp that is not one', '{"release_at":"tomorrow"}', 'GW_INVALID_ARGUMENT'],
  ['the reserved `now`', '{"now":"2100-01-01T00:00:00Z"}', 'GW_RESERVED_CONTEXT'],
  ['any parameter at Infinity', '{"x":1e400}', 'GW_INVALID_ARGUMENT'],
  ['any parameter nested 5,000 deep', `{"x":${deepJson(5000)}}`, 'GW_INVALID_ARGUMENT'],
]

t.test('caveat contexts are checked before the engine, on every question', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, SECTIONS)
  const engine = countEngineCalls(app)
  for (const [url, body, field] of ROUTES) {
    for (const [what, raw, code] of CONTEXTS) {
      const res = await postRaw(app, url, rawBody(body('@RAW@'), raw))
      t.equal(res.status, 400, `${url}, ${what}: 400`)
      t.equal(res.body.code, code, `${url}, ${what}: ${code}`)
      t.ok(String(res.body.field).startsWith(field), `${url}, ${what}: names ${field} (${res.body.field})`)
      t.ok(res.body.message.length < 200 && !/goroutine|\.go:|stack/i.test(res.body.message), `${url}, ${what}: a clean message`)
    }
  }
  t.equal(engine.calls, 0, 'none of them reached the engine')
  const good = await post(app, '/v1/check', { ...QUESTION, context: { release_at: '2000-01-01T00:00:00Z' } })
  t.equal(good.status, 200, 'a well-formed context is still answered')
  const all = await post(app, '/v1/permissions', { resource: 'section:s1', subject: 'user:pat', context: { release_at: '2000-01-01T00:00:00Z' } })
  t.equal(all.status, 200, 'on /v1/permissions too')
})

t.test('every operation whose body takes a context is in the table above', async (t) => {
  const app = await buildTestApp(t)
  type Schema = { properties?: Record<string, Schema>; items?: Schema }
  const doc = app.swagger() as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: Schema }> } }>> }
  const taking: string[] = []
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const op of Object.values(ops)) {
      const body = op.requestBody?.content?.['application/json']?.schema
      if (body?.properties?.context || body?.properties?.items?.items?.properties?.context) taking.push(path)
    }
  }
  t.ok(taking.length >= ROUTES.length, `${taking.length} operations take a context`)
  t.same(
    taking.filter((p) => !ROUTES.some(([url]) => url === p)),
    [],
    'none missing from the table',
  )
})

t.test('a subject that is the permission itself is refused, not allowed', async (t) => {
  const app = await buildTestApp(t)
  const engine = countEngineCalls(app)
  const q = { resource: 'certificate:c1', permission: 'retrieve', subject: 'certificate:c1#retrieve' }
  for (const [url, body, field] of [
    ['/v1/check', q, 'subject'],
    ['/v1/check/bulk', { items: [q] }, 'items.0.subject'],
    ['/v1/explain', q, 'subject'],
  ] as const) {
    const res = await post(app, url, body)
    t.equal(res.status, 400, `${url}: 400`)
    t.equal(res.body.field, field)
    t.notOk(JSON.stringify(res.body).includes('"allowed":true'))
  }
  t.equal(engine.calls, 0)
})

t.test('limits are the engine own, and over-limit input costs no engine call', async (t) => {
  const app = await buildTestApp(t)
  const engine = countEngineCalls(app)
  const lookup = (extra: Record<string, unknown>) =>
    post(app, '/v1/lookup/resources', { resourceType: 'program', permission: 'view', subject: 'user:pat', ...extra })
  const bad = [
    ['lookup limit 1001', await lookup({ limit: 1001 }), 'body.limit'],
    ['a type of 129 bytes', await lookup({ resourceType: `a${'b'.repeat(127)}c` }), 'body.resourceType'],
    ['a namespaced type over 128 bytes', await lookup({ resourceType: `${'a'.repeat(63)}/${'b'.repeat(63)}/abc` }), 'body.resourceType'],
    ['an id of 1025 bytes', await post(app, '/v1/check', { ...QUESTION, resource: `program:${'x'.repeat(1025)}` }), 'body.resource'],
  ] as const
  for (const [what, res, field] of bad) {
    t.equal(res.status, 400, `${what}: 400`)
    t.equal(res.body.field, field, `${what}: names ${field}`)
  }
  const read = await app.inject({ method: 'GET', url: '/v1/relationships?resourceType=program&limit=1001' })
  t.equal(read.statusCode, 400, 'relationship reads stop at 1000 too')
  t.equal(engine.calls, 0)
  t.equal((await lookup({ limit: 1000 })).status, 200, 'the engine limit itself is accepted')
})

t.test('reads without a limit come in pages of at most 1000', async (t) => {
  const app = await buildTestApp(t)
  const rels = Array.from({ length: 1001 }, (_, i) => `program:p${i}#facilitator@user:ana`)
  await seed(app, rels.slice(0, 1000))
  await seed(app, rels.slice(1000))
  const first = await app.inject({ method: 'GET', url: '/v1/relationships?resourceType=program' })
  t.equal(first.json().relationships.length, 1000)
  t.ok(first.json().cursor, 'with a cursor for the rest')
  const rest = await app.inject({ method: 'GET', url: `/v1/relationships?resourceType=program&cursor=${first.json().cursor}` })
  t.equal(rest.json().relationships.length, 1)
  const lookup = await post(app, '/v1/lookup/resources', { resourceType: 'program', permission: 'run', subject: 'user:ana' })
  t.equal(lookup.body.resources.length, 1000)
  t.ok(lookup.body.cursor)
})
