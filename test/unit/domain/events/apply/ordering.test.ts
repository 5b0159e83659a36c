/**
 * The ordering keys of a batch (src/domain/events/apply/ordering.ts): which events may run together,
 * and runOrdered, which runs them keeping "in order" for events that share a key.
 */
import t from 'tap'
import { createdInBatch, eventKeys, namedObjects, runOrdered } from '../../../../../src/domain/events/apply/ordering.js'
import type { DomainEvent } from '../../../../../src/domain/events/contract/schemas.js'
import { deferred, settle } from '../../../fixtures/async.js'

let n = 0
const ev = (type: string, data: Record<string, unknown>, actor?: string) =>
  ({ id: `e${++n}`, type, occurredAt: '2026-01-01T00:00:00Z', data, ...(actor ? { actor } : {}) }) as unknown as DomainEvent

const none = () => [] as string[]

t.test('namedObjects: the organized objects to look up, none when the event names its organization', async (t) => {
  t.same(namedObjects(ev('program.role_assigned', { programId: 'p1', userId: 'ana', role: 'facilitator' })), ['program:p1'])
  t.same(namedObjects(ev('program.group_assigned', { programId: 'p1', groupId: 'g1' })).sort(), ['group:g1', 'program:p1'])
  t.same(namedObjects(ev('program.created', { programId: 'p1', organizationId: 'acme' })), [], 'names its organization')
  t.same(namedObjects(ev('section.created', { sectionId: 's1', programId: 'p1', releaseAt: 'x' })), ['program:p1'], 'a section is not organized itself')
  t.same(namedObjects(ev('certificate.awarded', { certificateId: 'c1', learnerId: 'mia' })), [], 'a certificate belongs to no organization')
  t.same(namedObjects(ev('program.role_assigned', { programId: 7, userId: 'ana' })), [], 'a field that is not a string names nothing')
})

t.test('createdInBatch: the organization each creation puts its object in', async (t) => {
  const out = createdInBatch([
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob', userId: 'c1' }),
    ev('group.created', { groupId: 'g1', organizationId: 'beta' }),
    ev('group.created', { groupId: 'g1', organizationId: 'gamma' }),
    ev('program.role_assigned', { programId: 'p2', userId: 'ana', organizationId: 'acme' }),
    ev('section.created', { sectionId: 's1', programId: 'p9', organizationId: 'acme' }),
  ])
  t.same([...out.keys()].sort(), ['client:c1', 'group:g1', 'program:p1', 'program:p9'].sort())
  t.same([...out.get('group:g1')!].sort(), ['beta', 'gamma'], 'two creations of one id: both organizations')
  t.same([...out.get('program:p1')!], ['acme'])
  t.notOk(out.has('program:p2'), 'only `.created` events create')
  t.notOk(out.has('section:s1'), 'sections are not organized objects')
  t.equal(createdInBatch([]).size, 0)
})

t.test('eventKeys: id, objects, organization, people and actor', async (t) => {
  const e = ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob', userId: 'cy' }, 'user:olivia')
  t.same(new Set(eventKeys(e, none)), new Set([`id:${e.id}`, 'client:c1', 'organization:acme', 'user:rob', 'user:cy', 'user:olivia']))

  const looked: string[] = []
  const r = ev('pairing.set', { clientId: 'c1', coachId: 'rob', level: 'primary' })
  const keys = eventKeys(r, (o) => (looked.push(o), o === 'client:c1' ? ['acme'] : []))
  t.same(looked, ['client:c1'], 'the organization of the object is asked')
  t.same(new Set(keys), new Set([`id:${r.id}`, 'client:c1', 'organization:acme', 'user:rob']))

  const two = ev('program.group_assigned', { programId: 'p1', groupId: 'g1' })
  const both = eventKeys(two, (o) => (o === 'program:p1' ? ['acme'] : ['beta']))!
  t.ok(both.includes('organization:acme') && both.includes('organization:beta'), 'every organization of every object')
  t.ok(both.includes('program:p1') && both.includes('group:g1'))
})

t.test('eventKeys: barriers', async (t) => {
  t.equal(eventKeys(ev('program.role_assigned', { programId: 'p1', userId: 'ana' }), none), undefined, 'an object of unknown organization')
  t.equal(
    eventKeys(ev('program.group_assigned', { programId: 'p1', groupId: 'g1' }), (o) => (o === 'program:p1' ? ['acme'] : [])),
    undefined,
    'one object unknown is enough',
  )
  t.equal(eventKeys(ev('user.manager_assigned', { userId: 'mia', managerId: 'max' }), none), undefined, 'no organization: a user-level relation')
  t.equal(eventKeys(ev('certificate.awarded', { certificateId: 'c1', learnerId: 'mia' }), none), undefined, 'a certificate')
})

t.test('two events sharing only a person, or only an id, share a key', async (t) => {
  const a = ev('organization.member_added', { organizationId: 'acme', userId: 'rob', role: 'coach' })
  const b = ev('organization.member_added', { organizationId: 'beta', userId: 'rob', role: 'coach' })
  const c = ev('organization.member_added', { organizationId: 'beta', userId: 'sam', role: 'coach' })
  const ka = new Set(eventKeys(a, none))
  const shared = (x: string[] | undefined) => x!.filter((k) => ka.has(k))
  t.same(shared(eventKeys(b, none)), ['user:rob'])
  t.same(shared(eventKeys(c, none)), [], 'disjoint: may run together')
  const again = { ...c, id: a.id } as DomainEvent
  t.same(shared(eventKeys(again, none)), [`id:${a.id}`], 'a repeated id is ordered after the first')
})

/** runs `runOrdered` with work that waits to be released, recording starts and ends */
function harness(count: number, keysOf: (i: number) => string[] | undefined, limit: number, fail: number[] = []) {
  const gates = Array.from({ length: count }, () => deferred())
  const started: number[] = []
  const ended: number[] = []
  let running = 0
  let most = 0
  const done = runOrdered(count, keysOf, limit, async (i) => {
    started.push(i)
    most = Math.max(most, ++running)
    try {
      await gates[i]!.promise
      if (fail.includes(i)) throw new Error(`work ${i} failed`)
    } finally {
      running--
      ended.push(i)
    }
  })
  return { gates, started, ended, done, most: () => most, release: async (i: number) => (gates[i]!.resolve(), settle()) }
}

t.test('runOrdered: events sharing a key run one after the other, in index order', async (t) => {
  const h = harness(3, () => ['organization:acme'], 10)
  await settle()
  t.same(h.started, [0], 'only the first starts')
  await h.release(0)
  t.same(h.started, [0, 1])
  await h.release(1)
  await h.release(2)
  await h.done
  t.same(h.ended, [0, 1, 2])
  t.equal(h.most(), 1)
})

t.test('runOrdered: disjoint keys run together, up to the limit, starting in index order', async (t) => {
  const h = harness(5, (i) => [`organization:o${i}`], 2)
  await settle()
  t.same(h.started, [0, 1], 'the limit: two at a time')
  await h.release(1)
  t.same(h.started, [0, 1, 2], 'a freed slot goes to the next index')
  await h.release(0)
  t.same(h.started, [0, 1, 2, 3])
  await h.release(2)
  await h.release(3)
  await h.release(4)
  await h.done
  t.equal(h.most(), 2, 'never more than the limit')

  const wide = harness(4, (i) => [`k${i}`], 10)
  await settle()
  t.same(wide.started, [0, 1, 2, 3], 'under the limit, all at once')
  for (let i = 0; i < 4; i++) await wide.release(i)
  await wide.done
})

t.test('runOrdered: limit 1 is strict order even for disjoint keys', async (t) => {
  const h = harness(3, (i) => [`k${i}`], 1)
  await settle()
  t.same(h.started, [0])
  await h.release(0)
  await h.release(1)
  await h.release(2)
  await h.done
  t.same(h.started, [0, 1, 2])
  t.equal(h.most(), 1)
})

t.test('runOrdered: a later event waits only for the earlier ones it shares a key with', async (t) => {
  // 0:{a} 1:{b} 2:{a,b} 3:{c}
  const keys = [['a'], ['b'], ['a', 'b'], ['c']]
  const h = harness(4, (i) => keys[i], 10)
  await settle()
  t.same(h.started, [0, 1, 3], '2 waits for 0 and 1; 3 is free')
  await h.release(0)
  t.same(h.started, [0, 1, 3], 'still waiting for 1')
  await h.release(1)
  t.same(h.started, [0, 1, 3, 2])
  await h.release(2)
  await h.release(3)
  await h.done
})

t.test('runOrdered: a barrier waits for everything before it, and everything after waits for it', async (t) => {
  const keys = [['a'], ['b'], undefined, ['c'], ['d']]
  const h = harness(5, (i) => keys[i], 10)
  await settle()
  t.same(h.started, [0, 1])
  await h.release(0)
  t.same(h.started, [0, 1], 'the barrier waits for 1 too')
  await h.release(1)
  t.same(h.started, [0, 1, 2])
  await h.release(2)
  t.same(h.started, [0, 1, 2, 3, 4], 'after the barrier, disjoint events run together again')
  await h.release(3)
  await h.release(4)
  await h.done
})

t.test('runOrdered: a failed work does not stop the run; the next with its key still runs', async (t) => {
  const h = harness(2, () => ['a'], 4, [0])
  await h.release(0)
  t.same(h.started, [0, 1])
  await h.release(1)
  await t.resolves(h.done, 'resolves when every work settled, failed or not')
  t.same(h.ended, [0, 1])
})

t.test('runOrdered: nothing to run', async (t) => {
  await t.resolves(
    runOrdered(
      0,
      () => [],
      1,
      async () => void t.fail('no work'),
    ),
  )
})
