/**
 * Check answers kept until the next write (src/engine/speed/decision-cache.ts), on the embedded
 * in-memory engine, where this process is the only writer. What must hold:
 * - a repeated check is answered without asking the engine (the hit counter shows it);
 * - no answer outlives a write: over hundreds of grant/revoke rounds, with other checks of the
 *   same question running all the time (so answers are being kept while the writes run), a
 *   check that begins after a write was acknowledged answers as that write says;
 * - answers that depend on a caveat context are never kept;
 * - engines another process can write to keep nothing (remote; embedded on a database).
 */
import t, { type Test } from 'tap'
import { readFile } from 'node:fs/promises'
import { createEmbeddedEngine } from '../../src/engine/embedded.js'
import type { CheckItem, Relationship } from '../../src/engine/port.js'
import { buildTestApp, testEngine, type TestApp } from '../helpers/app.js'
import { post, seed } from '../helpers/http.js'

const ROUNDS = Number(process.env.CACHE_ROUNDS ?? 300)

async function kept(app: TestApp): Promise<{ hit: number; miss: number } | undefined> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const read = (result: string) => Number(new RegExp(`^trellis_check_answers_kept_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN)
  if (!text.includes('trellis_check_answers_kept_total')) return undefined
  return { hit: read('hit'), miss: read('miss') }
}

const check = async (app: TestApp, resource: string, permission: string, subject: string, consistency?: object) => {
  const res = await post(app, '/v1/check', { resource, permission, subject, ...(consistency ? { consistency } : {}) })
  if (res.status !== 200) throw new Error(`check: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.allowed as boolean
}

t.test('a repeated check is answered from the kept answer; a write drops it', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, ['organization:kc#manage_branding@user:ana'])
  if (testEngine() === 'remote') {
    // a SpiceDB server may have other writers: nothing is kept, and every answer is the engine's
    for (let i = 0; i < 5; i++) t.equal(await check(app, 'organization:kc', 'can_manage_branding', 'user:ana'), true, 'granted')
    const revoke = await post(app, '/v1/relationships', { updates: [{ operation: 'delete', relationship: 'organization:kc#manage_branding@user:ana' }] })
    t.equal(revoke.status, 200)
    t.equal(await check(app, 'organization:kc', 'can_manage_branding', 'user:ana'), false, 'the revoke is seen at once')
    t.equal(await kept(app), undefined, 'no kept-answer counter: nothing is kept')
    return
  }
  const before = (await kept(app))!
  for (let i = 0; i < 50; i++) t.equal(await check(app, 'organization:kc', 'can_manage_branding', 'user:ana'), true)
  const after = (await kept(app))!
  t.equal(after.miss - before.miss, 1, 'the engine was asked once')
  t.equal(after.hit - before.hit, 49, '49 answers came from the kept one')

  await post(app, '/v1/relationships', { updates: [{ operation: 'delete', relationship: 'organization:kc#manage_branding@user:ana' }] })
  t.equal(await check(app, 'organization:kc', 'can_manage_branding', 'user:ana'), false, 'the revoke is seen at once')
  t.equal((await kept(app))!.miss - after.miss, 1, 'asked of the engine again after the write')

  // every consistency mode is served from the same kept answers, and they are all right
  for (const consistency of [{ mode: 'fully_consistent' }, { mode: 'minimize_latency' }, undefined]) {
    t.equal(await check(app, 'organization:kc', 'can_manage_branding', 'user:ana', consistency), false, `mode ${consistency?.mode ?? 'default'}`)
  }
})

t.test('an answer that depends on a caveat context is never kept', async (t) => {
  const app = await buildTestApp(t)
  // a section released at a moment: its `view` reaches the release_time caveat, so each check
  // carries `now` and its answer is not kept
  const ev = await post(app, '/v1/relationships', {
    updates: [
      { operation: 'touch', relationship: 'program:p1#participant@user:lea' },
      { operation: 'touch', relationship: 'section:s1#release@program:p1[release_time:{"release_at":"2020-01-01T00:00:00Z"}]' },
    ],
  })
  t.equal(ev.status, 200, JSON.stringify(ev.body))
  const before = await kept(app)
  for (let i = 0; i < 5; i++) t.equal(await check(app, 'section:s1', 'view', 'user:lea'), true, 'released in 2020: visible now')
  t.equal(await check(app, 'section:s1', 'view', 'user:max'), false, 'not a participant: not visible')
  const after = await kept(app)
  if (testEngine() === 'remote') {
    // a SpiceDB server may have other writers: nothing is kept, caveated or not
    t.equal(before, undefined, 'no kept-answer counter before')
    t.equal(after, undefined, 'nor after the checks')
    return
  }
  t.equal(after!.hit - before!.hit, 0, 'no check of a caveated permission was answered from a kept answer')
  t.ok(after!.miss - before!.miss >= 6, 'every check went to the engine')
})

t.test(`no kept answer outlives a write: ${ROUNDS} grant/revoke rounds under constant checks`, async (t) => {
  const app = await buildTestApp(t)
  const resource = 'organization:kr'
  const subject = 'user:kim'
  const relationship = `${resource}#manage_branding@${subject}`
  let stop = false
  let background = 0
  // Checks of the same question all the time: answers are computed, and offered for keeping,
  // while each write below is in flight.
  const noise = Array.from({ length: 4 }, async () => {
    while (!stop) {
      await check(app, resource, 'can_manage_branding', subject)
      background++
    }
  })
  let staleAllows = 0
  let invisibleGrants = 0
  try {
    for (let i = 0; i < ROUNDS; i++) {
      for (const operation of ['touch', 'delete'] as const) {
        const w = await post(app, '/v1/relationships', { updates: [{ operation, relationship }] })
        if (w.status !== 200) throw new Error(`${operation}: ${w.status} ${JSON.stringify(w.body)}`)
        const allowed = await check(app, resource, 'can_manage_branding', subject)
        if (operation === 'touch' && !allowed) invisibleGrants++
        if (operation === 'delete' && allowed) staleAllows++
      }
    }
  } finally {
    stop = true
    await Promise.all(noise)
  }
  t.comment(`${ROUNDS} rounds, ${background} background checks: ${staleAllows} stale allows, ${invisibleGrants} invisible grants`)
  t.equal(staleAllows, 0, 'no check after an acknowledged revoke answered allowed')
  t.equal(invisibleGrants, 0, 'no check after an acknowledged grant answered not allowed')
  t.ok(background > ROUNDS, 'the background checks ran throughout')
  if (testEngine() === 'embedded') t.ok((await kept(app))!.hit > 0, 'and answers were kept between writes')
})

const FULL = { mode: 'fully_consistent' } as const

/**
 * The embedded engine alone, keeping answers, with one organization:user question: is the user
 * allowed to manage branding (the `manage_branding` relationship `rel`)?
 */
async function engineAlone(t: Test, org: string, user: string) {
  const engine = await createEmbeddedEngine({ timeoutMs: 10_000, decisionCacheMax: 1000 })
  t.teardown(() => engine.close())
  await engine.writeSchema(await readFile(new URL('../../schema.zed', import.meta.url), 'utf8'))
  const item: CheckItem = { resource: { type: 'organization', id: org }, permission: 'can_manage_branding', subject: { type: 'user', id: user } }
  const rel: Relationship = { resource: item.resource, relation: 'manage_branding', subject: item.subject }
  const allowedNow = async () => (await engine.check([item], FULL)).results[0]!.permissionship === 'has_permission'
  return { engine, rel, allowedNow }
}

t.test(`the engine alone (no read-your-writes layer above it): ${ROUNDS} rounds, fully consistent`, async (t) => {
  // The gateway's read-your-writes layer would also catch a stale kept answer (it checks every
  // answer's revision against its writes); here the kept answers must be right on their own.
  const { engine, rel, allowedNow } = await engineAlone(t, 'ke', 'eve')
  let stop = false
  const noise = Array.from({ length: 8 }, async () => {
    while (!stop) {
      await allowedNow()
      // a kept answer resolves without I/O: yield, or these loops would starve the writes
      await new Promise((r) => setImmediate(r))
    }
  })
  let wrong = 0
  try {
    for (let i = 0; i < ROUNDS; i++) {
      await engine.writeRelationships([{ operation: 'touch', relationship: rel }])
      if (!(await allowedNow())) wrong++
      await engine.deleteRelationships({ resourceType: 'organization', resourceId: 'ke', relation: 'manage_branding' })
      if (await allowedNow()) wrong++
    }
  } finally {
    stop = true
    await Promise.all(noise)
  }
  t.equal(wrong, 0, 'every check after a finished write answered as that write says')
  t.ok(engine.decisionCache!.stats.hits > 0, `answers were kept between writes (${engine.decisionCache!.stats.hits} hits)`)
})

t.test('a write whose caller timed out, landing later, still drops the kept answers', async (t) => {
  // An FFI call cannot be cancelled: a write can time out for its caller (503) and land after.
  // Writes run one at a time on this engine, so writes queued behind five large ones time out
  // while they wait, and land later.
  const { engine, rel, allowedNow } = await engineAlone(t, 'kt', 'tim')
  await engine.writeRelationships([{ operation: 'touch', relationship: rel }])
  t.equal(await allowedNow(), true)
  t.equal(await allowedNow(), true, 'kept')

  const deadlines = engine['opts'] // the engine's own deadline, shortened for the writes only
  deadlines.timeoutMs = 20
  const big = (k: number) =>
    Array.from({ length: 1000 }, (_, i) => ({
      operation: 'touch' as const,
      relationship: { resource: { type: 'organization', id: `kt${k}` }, relation: 'coach', subject: { type: 'user', id: `c${i}` } },
    }))
  const slow = [0, 1, 2, 3, 4].map((k) => engine.writeRelationships(big(k)).catch((e: Error) => e))
  const revoke = await engine.writeRelationships([{ operation: 'delete', relationship: rel }]).then(
    () => 'acknowledged',
    (e: Error) => e.message,
  )
  deadlines.timeoutMs = 10_000
  t.match(revoke, /did not answer within 20 ms/, 'the revoke timed out for its caller')
  // Asked while the revoke has not landed yet: either answer is right for a write never acknowledged.
  await allowedNow()
  await Promise.all(slow)
  // Wait until the revoke has landed, read where nothing is kept.
  for (let i = 0; i < 200; i++) {
    const page = await engine.readRelationships({ resourceType: 'organization', resourceId: 'kt', relation: 'manage_branding' }, {}, FULL)
    if (page.relationships.length === 0) break
    await new Promise((r) => setTimeout(r, 50))
  }
  t.equal(await allowedNow(), false, 'once the revoke landed, no kept allow answers for it')
})
