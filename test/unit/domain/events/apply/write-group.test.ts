/**
 * Group commit for event writes (src/domain/events/apply/write-group.ts): which writes share one
 * WriteRelationships call, and what each caller gets back when a shared call fails. The
 * engine here only records the calls it is given and answers as told; it judges nothing.
 */
import t from 'tap'
import { AsyncLocalStorage } from 'node:async_hooks'
import { WriteGroup } from '../../../../../src/domain/events/apply/write-group.js'
import { EngineError, type EnginePort, type Precondition, type Relationship, type RelationshipUpdate } from '../../../../../src/engine/port.js'
import { parseRelationship } from '../../../../../src/domain/wire/refs.js'
import { deferred, settle } from '../../../fixtures/async.js'

const rel = (text: string): Relationship => parseRelationship(text, 'r')
const touch = (text: string): RelationshipUpdate => ({ operation: 'touch', relationship: rel(text) })
const mustNot = (filter: Precondition['filter']): Precondition => ({ operation: 'must_not_match', filter })

interface Call {
  updates: RelationshipUpdate[]
  preconditions: Precondition[]
  answer: ReturnType<typeof deferred<string>>
}

/** records each call; each call waits for its answer */
function recorder() {
  const calls: Call[] = []
  const engine = {
    writeRelationships(updates: RelationshipUpdate[], preconditions: Precondition[] = []) {
      const answer = deferred<string>()
      calls.push({ updates, preconditions, answer })
      return answer.promise
    },
  } as unknown as EnginePort
  return { engine, calls }
}

const texts = (c: Call) =>
  c.updates.map((u) => `${u.relationship.resource.type}:${u.relationship.resource.id}#${u.relationship.relation}@${u.relationship.subject.id}`)

t.test('writes arriving while one is in flight go together in the next call', async (t) => {
  const { engine, calls } = recorder()
  const group = new WriteGroup(engine)
  const a = group.write([touch('program:p1#facilitator@user:ana')], [])
  await settle()
  t.equal(calls.length, 1, 'the first write goes at once, alone')
  const b = group.write([touch('program:p2#facilitator@user:bob')], [mustNot({ resourceType: 'program', resourceId: 'p2', relation: 'participant' })])
  const c = group.write([touch('program:p3#facilitator@user:cy')], [])
  await settle()
  t.equal(calls.length, 1, 'the others wait for it')
  calls[0]!.answer.resolve('t1')
  t.equal(await a, 't1')
  await settle()
  t.equal(calls.length, 2)
  t.same(texts(calls[1]!), ['program:p2#facilitator@bob', 'program:p3#facilitator@cy'], 'one call, in arrival order')
  t.equal(calls[1]!.preconditions.length, 1, 'every precondition goes with it')
  calls[1]!.answer.resolve('t2')
  t.same(await Promise.all([b, c]), ['t2', 't2'], "each gets the shared call's token")
  t.same(group.stats, { calls: 2, events: 3 })
})

t.test('writes that cannot see each other never share a call', async (t) => {
  const cases: { name: string; a: [RelationshipUpdate[], Precondition[]]; b: [RelationshipUpdate[], Precondition[]] }[] = [
    {
      name: 'the same relationship, caveat aside',
      a: [[touch('program:p1#facilitator@user:ana')], []],
      b: [[touch('program:p1#facilitator@user:ana[release_time]')], []],
    },
    {
      name: 'a precondition of the later one matches an update of the earlier one',
      a: [[touch('internal_guard:g1#holder@user:ana')], []],
      b: [[touch('program:p9#facilitator@user:zed')], [mustNot({ resourceType: 'internal_guard', resourceId: 'g1' })]],
    },
    {
      name: 'a precondition of the earlier one matches an update of the later one',
      a: [[touch('program:p9#facilitator@user:zed')], [{ operation: 'must_match', filter: { resourceType: 'client', resourceId: 'c1', relation: 'primary' } }]],
      b: [[touch('client:c1#primary@user:rob')], []],
    },
    {
      name: 'a filter subject without a relation matches a subject with one (conservative)',
      a: [[touch('group:g1#member@team:t1#member')], []],
      b: [[touch('program:p9#facilitator@user:zed')], [mustNot({ resourceType: 'group', subject: { type: 'team', id: 't1' } })]],
    },
  ]
  for (const c of cases) {
    const { engine, calls } = recorder()
    const group = new WriteGroup(engine)
    const first = group.write([touch('course:x#owner@user:q')], [])
    await settle()
    const a = group.write(...c.a)
    const b = group.write(...c.b)
    calls[0]!.answer.resolve('t0')
    await first
    await settle()
    t.equal(calls.length, 2, `${c.name}: the first waiting one goes`)
    t.equal(calls[1]!.updates.length, 1, `${c.name}: alone`)
    calls[1]!.answer.resolve('t1')
    await a
    await settle()
    t.equal(calls.length, 3, `${c.name}: the other goes after it`)
    calls[2]!.answer.resolve('t2')
    t.equal(await b, 't2')
  }
})

t.test('a precondition on other objects does not split the group', async (t) => {
  const { engine, calls } = recorder()
  const group = new WriteGroup(engine)
  const first = group.write([touch('course:x#owner@user:q')], [])
  await settle()
  const a = group.write([touch('client:c1#primary@user:rob')], [])
  const b = group.write(
    [touch('program:p9#facilitator@user:zed')],
    [
      mustNot({ resourceType: 'client', resourceId: 'c2' }),
      mustNot({ resourceType: 'client', resourceId: 'c1', relation: 'coaching' }),
      mustNot({ resourceType: 'client', resourceId: 'c1', subject: { type: 'user', id: 'ann' } }),
      mustNot({ resourceType: 'client', resourceId: 'c1', subject: { type: 'user', id: 'rob', relation: 'member' } }),
    ],
  )
  calls[0]!.answer.resolve('t0')
  await first
  await settle()
  t.equal(calls[1]!.updates.length, 2, 'other resource, other relation, other subject, other subject relation: no conflict')
  calls[1]!.answer.resolve('t1')
  await Promise.all([a, b])
})

t.test("a call stays under SpiceDB's limits of 1,000 updates and preconditions", async (t) => {
  const many = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => touch(`program:${prefix}${i}#participant@user:u`))
  for (const [what, big] of [
    ['updates', (p: string) => [many(p, 500), []] as const],
    [
      'preconditions',
      (p: string) =>
        [
          [touch(`program:${p}#participant@user:u`)],
          Array.from({ length: 500 }, (_, i) => mustNot({ resourceType: 'course', resourceId: `${p}${i}` })),
        ] as const,
    ],
  ] as const) {
    const { engine, calls } = recorder()
    const group = new WriteGroup(engine)
    const first = group.write([touch('course:x#owner@user:q')], [])
    await settle()
    const a = group.write(...(big('a') as unknown as [RelationshipUpdate[], Precondition[]]))
    const b = group.write(...(big('b') as unknown as [RelationshipUpdate[], Precondition[]]))
    const c = group.write([touch('program:small#participant@user:u')], [])
    calls[0]!.answer.resolve('t0')
    await first
    await settle()
    t.equal(calls.length, 2)
    const sizes = (x: Call) => (what === 'updates' ? x.updates.length : x.preconditions.length)
    t.equal(sizes(calls[1]!), what === 'updates' ? 501 : 500, `${what}: 500 + 500 is over 900, so the second waits; a small one still fits`)
    calls[1]!.answer.resolve('t1')
    await Promise.all([a, c])
    await settle()
    t.equal(sizes(calls[2]!), 500)
    calls[2]!.answer.resolve('t2')
    await b
  }
  // one write alone over the limit still goes (SpiceDB judges it)
  const { engine, calls } = recorder()
  const group = new WriteGroup(engine)
  const huge = group.write(many('h', 1000), [])
  await settle()
  t.equal(calls[0]!.updates.length, 1000)
  calls[0]!.answer.resolve('th')
  t.equal(await huge, 'th')
})

t.test('a shared call that fails: each event is written alone and gets its own answer', async (t) => {
  const { engine, calls } = recorder()
  const group = new WriteGroup(engine)
  const first = group.write([touch('course:x#owner@user:q')], [])
  await settle()
  const a = group.write([touch('program:p1#facilitator@user:ana')], [])
  const b = group.write([touch('program:p2#facilitator@user:bob')], [])
  calls[0]!.answer.resolve('t0')
  await first
  await settle()
  calls[1]!.answer.reject(new EngineError('failed_precondition', 'a precondition failed'))
  await settle()
  t.equal(calls.length, 3, 'the first event alone')
  t.same(texts(calls[2]!), ['program:p1#facilitator@ana'])
  calls[2]!.answer.resolve('ta')
  await settle()
  t.same(texts(calls[3]!), ['program:p2#facilitator@bob'], 'then the second alone')
  const failed = new EngineError('failed_precondition', "b's precondition")
  calls[3]!.answer.reject(failed)
  t.equal(await a, 'ta')
  await t.rejects(b, failed, 'the one at fault gets the failure')
  t.same(group.stats, { calls: 4, events: 5 })
})

t.test('an unavailable engine fails every event of the call, without writing them again', async (t) => {
  const { engine, calls } = recorder()
  const group = new WriteGroup(engine)
  const first = group.write([touch('course:x#owner@user:q')], [])
  await settle()
  const a = group.write([touch('program:p1#facilitator@user:ana')], [])
  const b = group.write([touch('program:p2#facilitator@user:bob')], [])
  calls[0]!.answer.resolve('t0')
  await first
  await settle()
  const down = new EngineError('unavailable', 'down')
  calls[1]!.answer.reject(down)
  await t.rejects(a, down)
  await t.rejects(b, down)
  await settle()
  t.equal(calls.length, 2, 'no call after the failure')
  // the queue keeps working after a failure
  const c = group.write([touch('program:p3#facilitator@user:cy')], [])
  await settle()
  calls[2]!.answer.resolve('t3')
  t.equal(await c, 't3')
})

t.test('`applied` runs once per event, with its updates and token, in its own async context', async (t) => {
  const { engine, calls } = recorder()
  const als = new AsyncLocalStorage<string>()
  const seen: { who: string | undefined; updates: number; token: string }[] = []
  const group = new WriteGroup(engine, async (updates, token) => {
    seen.push({ who: als.getStore(), updates: updates.length, token })
    if (als.getStore() === 'b') throw new Error('noting failed')
  })
  const first = als.run('first', () => group.write([touch('course:x#owner@user:q')], []))
  await settle()
  const a = als.run('a', () => group.write([touch('program:p1#facilitator@user:ana'), touch('program:p1#participant@user:zoe')], []))
  const b = als.run('b', () => group.write([touch('program:p2#facilitator@user:bob')], []))
  calls[0]!.answer.resolve('t0')
  await first
  await settle()
  calls[1]!.answer.resolve('t1')
  t.equal(await a, 't1')
  t.equal(await b, 't1', 'a failure to note does not fail the write: it landed')
  t.same(seen, [
    { who: 'first', updates: 1, token: 't0' },
    { who: 'a', updates: 2, token: 't1' },
    { who: 'b', updates: 1, token: 't1' },
  ])
  t.equal(calls.length, 2, 'never written again')
})
