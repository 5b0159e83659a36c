/**
 * The check coalescer (src/engine/speed/check-coalescer.ts): checks of one turn and one consistency
 * go to the engine as one bulk call, each caller gets its own slice, and a failure reaches only
 * the caller at fault. The bulk function below only records calls and echoes an answer per
 * item (or fails as told); it decides no permission.
 */
import t from 'tap'
import { CheckCoalescer } from '../../../../src/engine/speed/check-coalescer.js'
import { EngineError, type CheckAnswer, type CheckItem, type Consistency } from '../../../../src/engine/port.js'

const item = (id: string, permission = 'view'): CheckItem => ({ resource: { type: 'doc', id }, permission, subject: { type: 'user', id: 'ana' } })
const HEAD: Consistency = { mode: 'fully_consistent' }

/** answers each item `has_permission` when its resource id starts with "y"; fails a call holding an id starting with "bad" */
function recorder(
  fail: (items: CheckItem[]) => Error | undefined = (items) =>
    items.some((i) => i.resource.id.startsWith('bad')) ? new EngineError('invalid_argument', 'bad context') : undefined,
) {
  const calls: { ids: string[]; consistency: Consistency }[] = []
  const bulk = async (items: CheckItem[], consistency: Consistency): Promise<CheckAnswer> => {
    calls.push({ ids: items.map((i) => i.resource.id), consistency })
    const err = fail(items)
    if (err) throw err
    return {
      results: items.map((i) => ({ permissionship: i.resource.id.startsWith('y') ? 'has_permission' : 'no_permission' })),
      checkedAt: `t${calls.length}`,
    }
  }
  return { bulk, calls }
}

const ships = (a: CheckAnswer) => a.results.map((r) => r.permissionship)

t.test('checks of one turn go as one bulk call; each caller gets its own slice', async (t) => {
  const { bulk, calls } = recorder()
  const c = new CheckCoalescer(bulk)
  const [a, b, d] = await Promise.all([
    c.check([item('y1'), item('n1')], HEAD),
    c.check([item('n2')], HEAD),
    c.check([item('y3'), item('y4'), item('n5')], HEAD),
  ])
  t.equal(calls.length, 1)
  t.same(calls[0]!.ids, ['y1', 'n1', 'n2', 'y3', 'y4', 'n5'], 'in arrival order')
  t.same(ships(a!), ['has_permission', 'no_permission'])
  t.same(ships(b!), ['no_permission'])
  t.same(ships(d!), ['has_permission', 'has_permission', 'no_permission'])
  t.equal(a!.checkedAt, 't1')
  t.equal(d!.checkedAt, 't1', "the one call's revision for all")
  const later = await c.check([item('y9')], HEAD)
  t.equal(calls.length, 2, 'a later turn: a new call')
  t.same(ships(later), ['has_permission'])
})

t.test('only checks of the same consistency are merged', async (t) => {
  const { bulk, calls } = recorder()
  const c = new CheckCoalescer(bulk)
  await Promise.all([
    c.check([item('y1')], HEAD),
    c.check([item('y2')], { mode: 'minimize_latency' }),
    c.check([item('y3')], { mode: 'at_least_as_fresh', token: 'A' }),
    c.check([item('y4')], { mode: 'at_least_as_fresh', token: 'B' }),
    c.check([item('y5')], { mode: 'at_least_as_fresh', token: 'A' }),
    c.check([item('y6')], HEAD),
  ])
  t.equal(calls.length, 4)
  const byIds = Object.fromEntries(calls.map((x) => [x.ids.join(','), x.consistency]))
  t.same(byIds['y1,y6'], HEAD)
  t.same(byIds['y3,y5'], { mode: 'at_least_as_fresh', token: 'A' })
  t.same(byIds['y4'], { mode: 'at_least_as_fresh', token: 'B' })
  t.same(byIds['y2'], { mode: 'minimize_latency' })
})

t.test('no call carries more than maxBatch items; a large request goes as it is', async (t) => {
  const { bulk, calls } = recorder()
  const c = new CheckCoalescer(bulk, 4)
  const many = (p: string, n: number) => Array.from({ length: n }, (_, i) => item(`${p}${i}`))
  const answers = await Promise.all([c.check(many('a', 3), HEAD), c.check(many('b', 2), HEAD), c.check(many('c', 1), HEAD), c.check(many('d', 4), HEAD)])
  t.ok(
    calls.every((x) => x.ids.length <= 4),
    `call sizes ${calls.map((x) => x.ids.length).join(', ')}`,
  )
  t.same(
    calls.map((x) => x.ids.join(',')).sort(),
    ['a0,a1,a2', 'b0,b1,c0', 'd0,d1,d2,d3'].sort(),
    'a full batch is sent when the next would overflow it; 4 items: sent at once',
  )
  t.same(
    answers.map((a) => a.results.length),
    [3, 2, 1, 4],
  )
})

t.test('a failed merged call is split until only the caller at fault gets the error', async (t) => {
  const { bulk, calls } = recorder()
  const c = new CheckCoalescer(bulk)
  const callers = Array.from({ length: 8 }, (_, i) => c.check([item(i === 5 ? 'bad5' : `y${i}`)], HEAD))
  const settled = await Promise.allSettled(callers)
  t.same(
    settled.map((s) => s.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  )
  const failed = settled[5] as PromiseRejectedResult
  t.match(failed.reason, { kind: 'invalid_argument', message: 'bad context' })
  for (const [i, s] of settled.entries()) if (s.status === 'fulfilled') t.same(ships(s.value), ['has_permission'], `caller ${i} answered`)
  // 8 -> 4+4 -> (2+2) -> (1+1): 1 + 2 + 2 + 2 = 7 calls, not one per caller on top of the first
  t.equal(calls.length, 7, 'about 2·log2(n) more calls')
  t.ok(calls.filter((x) => x.ids.length === 1).length === 2, 'down to the single caller')
})

t.test('an engine that is down fails everyone at once, without retries', async (t) => {
  const down = new EngineError('unavailable', 'no connection')
  const { bulk, calls } = recorder(() => down)
  const c = new CheckCoalescer(bulk)
  const settled = await Promise.allSettled([c.check([item('y1')], HEAD), c.check([item('y2')], HEAD), c.check([item('y3')], HEAD)])
  t.ok(settled.every((s) => s.status === 'rejected' && s.reason === down))
  t.equal(calls.length, 1)
})

t.test('a lone failing caller gets its error from the one call', async (t) => {
  const { bulk, calls } = recorder()
  const c = new CheckCoalescer(bulk)
  await t.rejects(c.check([item('bad')], HEAD), { name: 'EngineError', kind: 'invalid_argument' })
  t.equal(calls.length, 1)
  const other = new Error('not an engine error')
  const r = recorder(() => other)
  const c2 = new CheckCoalescer(r.bulk)
  const s = await Promise.allSettled([c2.check([item('a')], HEAD), c2.check([item('b')], HEAD)])
  t.ok(
    s.every((x) => x.status === 'rejected' && x.reason === other),
    "a failure that is everyone's reaches everyone",
  )
  t.equal(r.calls.length, 3, 'after splitting down to each caller')
})
