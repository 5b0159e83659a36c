/**
 * Check answers kept until the next write (src/engine/speed/decision-cache.ts). The engine function
 * below answers from a table the test sets and records what it was asked; the rules under test
 * are when an answer may be kept and served.
 */
import t from 'tap'
import { DecisionCache } from '../../../../src/engine/speed/decision-cache.js'
import type { CheckAnswer, CheckItem, CheckResult, Consistency } from '../../../../src/engine/port.js'
import { zedToken } from '../../fixtures/tokens.js'
import { deferred } from '../../fixtures/async.js'

const item = (id: string, context?: Record<string, unknown>): CheckItem => ({
  resource: { type: 'doc', id },
  permission: 'view',
  subject: { type: 'user', id: 'ana' },
  ...(context ? { context } : {}),
})
const HEAD: Consistency = { mode: 'fully_consistent' }

/** an engine answering from `table` (id -> result) at revision `at` */
function engine(table: Record<string, CheckResult>, at = zedToken('10')) {
  const asked: string[][] = []
  const state = { at }
  const fn = async (items: CheckItem[]): Promise<CheckAnswer> => {
    asked.push(items.map((i) => i.resource.id))
    return { results: items.map((i) => table[i.resource.id] ?? { permissionship: 'no_permission' }), checkedAt: state.at }
  }
  return { fn, asked, state }
}
const yes: CheckResult = { permissionship: 'has_permission' }
const no: CheckResult = { permissionship: 'no_permission' }

t.test('a repeated check is answered from the kept answer', async (t) => {
  const cache = new DecisionCache(100)
  const e = engine({ a: yes })
  t.same((await cache.check([item('a')], HEAD, e.fn)).results, [yes])
  const again = await cache.check([item('a')], HEAD, e.fn)
  t.same(again.results, [yes])
  t.equal(again.checkedAt, zedToken('10'), "the kept answers' revision")
  t.same(e.asked, [['a']], 'asked once')
  t.same(cache.stats, { hits: 1, misses: 1 })
  for (const c of [{ mode: 'minimize_latency' }, { mode: 'at_least_as_fresh' }, { mode: 'at_least_as_fresh', token: zedToken('9') }] as Consistency[]) {
    await cache.check([item('a')], c, e.fn)
  }
  t.equal(e.asked.length, 1, 'every mode is served, and a token the kept answers cover')
})

t.test('only what is missing is asked, and answers come back in order', async (t) => {
  const cache = new DecisionCache(100)
  const e = engine({ a: yes, c: yes })
  await cache.check([item('a')], HEAD, e.fn)
  const mixed = await cache.check([item('b'), item('a'), item('c')], HEAD, e.fn)
  t.same(mixed.results, [no, yes, yes])
  t.same(e.asked, [['a'], ['b', 'c']])
})

t.test('a write drops every kept answer; none is served or kept while it runs', async (t) => {
  const cache = new DecisionCache(100)
  const e = engine({ a: yes })
  await cache.check([item('a')], HEAD, e.fn)
  const gate = deferred<string>()
  const write = cache.writing(
    () => gate.promise,
    (tok) => tok,
  )
  await cache.check([item('a')], HEAD, e.fn)
  t.equal(e.asked.length, 2, 'not served while the write is in flight')
  await cache.check([item('a')], HEAD, e.fn)
  t.equal(e.asked.length, 3, 'and not kept')
  gate.resolve(zedToken('12'))
  await write
  const e2 = engine({ a: no }, zedToken('12'))
  t.same((await cache.check([item('a')], HEAD, e2.fn)).results, [no], "after the write: the engine's new answer")
  await cache.check([item('a')], HEAD, e2.fn)
  t.equal(e2.asked.length, 1, 'kept again after the write')
})

t.test('a failed write drops the kept answers too', async (t) => {
  const cache = new DecisionCache(100)
  const e = engine({ a: yes })
  await cache.check([item('a')], HEAD, e.fn)
  await t.rejects(
    cache.writing(async () => {
      throw new Error('write failed')
    }),
    /write failed/,
  )
  await cache.check([item('a')], HEAD, e.fn)
  t.equal(e.asked.length, 2)
})

t.test('an answer computed while a write started and finished is not kept', async (t) => {
  const cache = new DecisionCache(100)
  const gate = deferred<CheckAnswer>()
  let asked = 0
  const slow = async () => (asked++, gate.promise)
  const pending = cache.check([item('a')], HEAD, slow)
  await cache.writing(async () => 'w')
  gate.resolve({ results: [yes], checkedAt: zedToken('10') })
  t.same((await pending).results, [yes], 'passed on')
  const e = engine({ a: no })
  t.same((await cache.check([item('a')], HEAD, e.fn)).results, [no], 'not kept: the engine is asked')
  t.equal(asked, 1)
})

t.test('a partial hit whose state moved during the engine call is asked again whole', async (t) => {
  const cache = new DecisionCache(100)
  const e = engine({ a: yes })
  await cache.check([item('a')], HEAD, e.fn)
  const calls: string[][] = []
  const racing = async (items: CheckItem[]): Promise<CheckAnswer> => {
    calls.push(items.map((i) => i.resource.id))
    if (calls.length === 1) await cache.writing(async () => 'w')
    return { results: items.map(() => no), checkedAt: zedToken('11') }
  }
  const out = await cache.check([item('a'), item('b')], HEAD, racing)
  t.same(calls, [['b'], ['a', 'b']], 'one answer is of one state')
  t.same(out.results, [no, no])
})

t.test('not kept: caveat contexts, conditional answers, errors, missing context', async (t) => {
  const cache = new DecisionCache(100)
  const e = engine({
    cond: { permissionship: 'conditional', missingContext: ['now'] },
    miss: { permissionship: 'no_permission', missingContext: ['x'] },
    err: { permissionship: 'no_permission', error: Object.assign(new Error('x'), { kind: 'internal' }) as never },
    ctx: yes,
    ok: yes,
  })
  const items = [item('cond'), item('miss'), item('err'), item('ctx', { x: 1 }), item('ok')]
  await cache.check(items, HEAD, e.fn)
  await cache.check(items, HEAD, e.fn)
  t.same(e.asked[1], ['cond', 'miss', 'err', 'ctx'], 'only the plain allow was kept')
  await cache.check([item('ok', { x: 1 })], HEAD, e.fn)
  t.same(e.asked[2], ['ok'], 'a check with a context is never served from a kept answer')
})

t.test('an answer older than the last write is passed on, not kept', async (t) => {
  const cache = new DecisionCache(100)
  await cache.writing(
    async () => zedToken('20'),
    (tok) => tok,
  )
  const stale = engine({ a: yes }, zedToken('19'))
  await cache.check([item('a')], HEAD, stale.fn)
  await cache.check([item('a')], HEAD, stale.fn)
  t.equal(stale.asked.length, 2, "SpiceDB's shared head lookup answered from before the write")
  const fresh = engine({ a: yes }, zedToken('20'))
  await cache.check([item('a')], HEAD, fresh.fn)
  await cache.check([item('a')], HEAD, fresh.fn)
  t.equal(fresh.asked.length, 1, "at the write's revision: kept")
})

t.test("a caller's token the kept answers do not cover goes to the engine", async (t) => {
  const cache = new DecisionCache(100)
  const e = engine({ a: yes }, zedToken('10'))
  await cache.check([item('a')], HEAD, e.fn)
  await cache.check([item('a')], { mode: 'at_least_as_fresh', token: zedToken('11') }, e.fn)
  await cache.check([item('a')], { mode: 'at_least_as_fresh', token: zedToken('5', 'other-datastore') }, e.fn)
  await cache.check([item('a')], { mode: 'at_least_as_fresh', token: 'unreadable' }, e.fn)
  t.equal(e.asked.length, 4)
})

t.test('bounded: the oldest kept answer goes first', async (t) => {
  const cache = new DecisionCache(2)
  const e = engine({ a: yes, b: yes, c: yes })
  await cache.check([item('a'), item('b')], HEAD, e.fn)
  await cache.check([item('c')], HEAD, e.fn)
  e.asked.length = 0
  await cache.check([item('b'), item('c')], HEAD, e.fn)
  t.same(e.asked, [], 'b and c kept')
  await cache.check([item('a')], HEAD, e.fn)
  t.same(e.asked, [['a']], 'a was dropped for c')
})

t.test('drop: the engine failed; drop(forever): the engine closed', async (t) => {
  const cache = new DecisionCache(100)
  const e = engine({ a: yes })
  await cache.check([item('a')], HEAD, e.fn)
  cache.drop()
  await cache.check([item('a')], HEAD, e.fn)
  t.equal(e.asked.length, 2, 'asked again after a drop')
  await cache.check([item('a')], HEAD, e.fn)
  t.equal(e.asked.length, 2, 'and kept again')
  cache.drop(true)
  await cache.check([item('a')], HEAD, e.fn)
  await cache.check([item('a')], HEAD, e.fn)
  t.equal(e.asked.length, 4, 'closed: nothing kept again')
})
