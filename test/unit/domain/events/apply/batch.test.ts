/**
 * The pure rules of a batch (src/domain/events/apply/batch.ts): what must be read before a
 * batch is ordered, the keys events get from it (grouping: which share a key and so run in
 * order), and what a batch that stopped answers.
 */
import t from 'tap'
import { batchKeysFrom, batchLookups, batchStop, type EventResult } from '../../../../../src/domain/events/apply/batch.js'
import type { DomainEvent } from '../../../../../src/domain/events/contract/schemas.js'
import { GatewayError } from '../../../../../src/domain/wire/errors.js'

let n = 0
const ev = (type: string, data: Record<string, unknown>) => ({ id: `e${++n}`, type, occurredAt: '2026-01-01T00:00:00Z', data }) as unknown as DomainEvent

const applied = (e: DomainEvent): EventResult => ({ id: e.id, status: 'applied', writtenAt: 't' })
const orgKeys = (keys: string[] | undefined) => keys?.filter((k) => k.startsWith('organization:')).sort()

t.test('batchLookups: an object created earlier in the batch is known, any other is read once', async (t) => {
  const events = [
    ev('program.role_assigned', { programId: 'p0', userId: 'ana', role: 'facilitator' }),
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'ana', role: 'facilitator' }),
    ev('program.role_assigned', { programId: 'p0', userId: 'bob', role: 'participant' }),
    ev('program.group_assigned', { programId: 'p1', groupId: 'g1' }),
  ]
  const { known, toRead } = batchLookups(events)
  t.same(toRead.sort(), ['group:g1', 'program:p0'], 'p0 and g1 are read, each once; p1 is created by the batch')
  t.equal(known.length, events.length, 'one map per event')
  t.equal(known[0]!.size, 0, 'p0 before any creation: not known')
  t.same([...known[2]!.get('program:p1')!], ['acme'], 'p1 after its creation: in acme')
  t.same([...known[4]!.get('program:p1')!], ['acme'])
  t.notOk(known[4]!.has('group:g1'))
})

t.test('batchLookups: an event only knows of creations before it', async (t) => {
  const events = [
    ev('program.role_assigned', { programId: 'p1', userId: 'ana', role: 'facilitator' }),
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
  ]
  const { known, toRead } = batchLookups(events)
  t.same(toRead, ['program:p1'], 'the event before the creation reads it')
  t.equal(known[0]!.size, 0)
})

t.test('batchLookups: two creations of one id put it in both organizations', async (t) => {
  const events = [
    ev('group.created', { groupId: 'g1', organizationId: 'acme' }),
    ev('group.created', { groupId: 'g1', organizationId: 'beta' }),
    ev('group.renamed', { groupId: 'g1', name: 'x' }),
  ]
  t.same([...batchLookups(events).known[2]!.get('group:g1')!].sort(), ['acme', 'beta'])
})

t.test('batchKeysFrom: what the batch knows wins over what was read; an unknown object is a barrier', async (t) => {
  const events = [
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'ana', role: 'facilitator' }),
    ev('program.role_assigned', { programId: 'p2', userId: 'bob', role: 'facilitator' }),
    ev('program.role_assigned', { programId: 'p3', userId: 'cat', role: 'facilitator' }),
  ]
  const { known } = batchLookups(events)
  const read = new Map([
    ['program:p1', ['elsewhere']],
    ['program:p2', ['beta']],
    ['program:p3', []],
  ])
  const keys = batchKeysFrom(events, known, read)
  t.same(orgKeys(keys[1]), ['organization:acme'], 'p1 was created in acme by the batch: the read is not asked')
  t.same(orgKeys(keys[2]), ['organization:beta'], 'p2 read in beta')
  t.equal(keys[3], undefined, 'p3 belongs to no organization read: a barrier')
  t.ok(keys[1]!.includes('user:ana') && keys[2]!.includes('user:bob'), 'people are keys')
})

t.test('batchKeysFrom: events in one organization share a key; in two organizations they share none', async (t) => {
  const events = [
    ev('program.role_assigned', { programId: 'p1', userId: 'ana', role: 'facilitator' }),
    ev('program.role_assigned', { programId: 'p2', userId: 'bob', role: 'facilitator' }),
    ev('program.role_assigned', { programId: 'p3', userId: 'cat', role: 'facilitator' }),
  ]
  const read = new Map([
    ['program:p1', ['acme']],
    ['program:p2', ['acme']],
    ['program:p3', ['beta']],
  ])
  const [a, b, c] = batchKeysFrom(events, batchLookups(events).known, read)
  const share = (x?: string[], y?: string[]) => (x ?? []).some((k) => (y ?? []).includes(k))
  t.ok(share(a, b), 'acme and acme: one after the other')
  t.notOk(share(a, c), 'acme and beta: together')
  t.notOk(share(b, c))
})

t.test('batchStop: every event applied answers nothing to throw', async (t) => {
  const events = [ev('x.y', {}), ev('x.y', {})]
  t.equal(batchStop(events, events.map(applied), []), undefined)
})

t.test('batchStop: the first refusal, with what was applied before and after it', async (t) => {
  const events = [ev('x.y', {}), ev('x.y', {}), ev('x.y', {}), ev('x.y', {})]
  const refusal = new GatewayError('GW_ONE_ROLE', 409, 'one role', 'data.role', { user: 'user:ana' })
  const results = [applied(events[0]!), undefined, applied(events[2]!), undefined]
  const stop = batchStop(events, results, [undefined, refusal])!
  t.equal(stop.skipped, undefined, 'a refusal counts nothing as skipped')
  t.match(stop.error, {
    code: 'GW_ONE_ROLE',
    statusCode: 409,
    field: 'data.role',
    details: { user: 'user:ana', failedIndex: 1, results: [results[0], results[2]], notApplied: [events[1]!.id, events[3]!.id] },
  })
  t.match(
    (stop.error as Error).message,
    `events.1 (${events[1]!.id}) was not applied; 1 before it were (1 event(s) after it, already under way, were applied too: details.results): one role`,
  )
})

t.test('batchStop: an event never started (shutdown) answers 503 and counts what was skipped', async (t) => {
  const events = [ev('x.y', {}), ev('x.y', {}), ev('x.y', {})]
  const stopped = new GatewayError('GW_SHUTTING_DOWN', 503, 'closing')
  const stop = batchStop(events, [applied(events[0]!), undefined, undefined], [undefined, stopped])!
  t.match(stop.error, { code: 'GW_SHUTTING_DOWN', statusCode: 503, details: { failedIndex: 1, notApplied: [events[1]!.id, events[2]!.id] } })
  t.equal(stop.skipped, 1, 'the event stopped by the shutdown is counted where it failed; only the one not started is skipped')
  t.equal(batchStop(events, [undefined, undefined, undefined], [])!.skipped, 3)
})

t.test('batchStop: an error that is not ours is thrown as it is', async (t) => {
  const events = [ev('x.y', {})]
  const boom = new Error('boom')
  const stop = batchStop(events, [undefined], [boom])!
  t.equal(stop.error, boom)
  t.equal(stop.skipped, undefined)
})
