/** Which scope an operation needs beyond its route's (src/domain/callers/scopes.ts). */
import t from 'tap'
import { deleteBodyScope, eventsBodyScope, relationshipsReadScope, scopesOf } from '../../../../src/domain/callers/scopes.js'

t.test('events: one without an actor needs platform', async (t) => {
  const e = (actor?: unknown) => ({ id: 'e1', type: 'program.created', data: {}, ...(actor === undefined ? {} : { actor }) })
  t.equal(eventsBodyScope(e('user:ana')), undefined)
  t.same(eventsBodyScope(e()), { scope: 'platform', why: 'the event has no actor' })
  t.same(eventsBodyScope(e(null)), { scope: 'platform', why: 'the event has no actor' })
  t.same(eventsBodyScope(e('')), { scope: 'platform', why: 'the event has no actor' })
  t.equal(eventsBodyScope({ events: [e('user:a'), e('user:b')] }), undefined)
  t.same(eventsBodyScope({ events: [e('user:a'), e(), e()] }), { scope: 'platform', why: 'events[1] has no actor' }, 'the first one without')
  t.equal(eventsBodyScope({ events: [e('user:a'), 'junk', { type: 5 }] }), undefined, 'what is not an event is left to validation')
  t.equal(eventsBodyScope(null), undefined)
  t.equal(eventsBodyScope([e()]), undefined, 'an array body is not an event')
  t.same(eventsBodyScope({ type: 'x', events: [] }), { scope: 'platform', why: 'the event has no actor' }, 'an event with an `events` field is one event')
  t.type(eventsBodyScope.doc, 'string')
})

t.test('delete: a filter naming no object needs admin', async (t) => {
  const need = { scope: 'admin', why: 'a delete by type alone (no resource id, resource or subject)' }
  t.same(deleteBodyScope({ filter: { resourceType: 'program' } }), need)
  t.same(deleteBodyScope({ filter: { resourceType: 'program', relation: 'facilitator' } }), need)
  t.same(deleteBodyScope({ filter: { resourceType: 'program', resourceId: '' } }), need, 'an empty id names nothing')
  t.equal(deleteBodyScope({ filter: { resourceType: 'program', resourceId: 'p1' } }), undefined)
  t.equal(deleteBodyScope({ filter: { resource: 'program:p1' } }), undefined)
  t.equal(deleteBodyScope({ filter: { resourceType: 'program', subject: 'user:ana' } }), undefined)
  t.equal(deleteBodyScope({}), undefined, 'no filter: left to validation')
  t.equal(deleteBodyScope({ filter: [] }), undefined)
})

t.test('relationships read: an internal type needs admin', async (t) => {
  t.equal(relationshipsReadScope({ resourceType: 'program' }), undefined)
  t.match(relationshipsReadScope({ resourceType: 'internal_guard' }), { scope: 'admin', why: /internal_guard/ })
  t.match(relationshipsReadScope({ resource: 'internal_guard:x' }), { scope: 'admin' })
  t.match(
    relationshipsReadScope({ resourceType: 'program', subject: 'acme/internal_lock:x#y' }),
    { scope: 'admin', why: /acme\/internal_lock/ },
    'with a prefix',
  )
  t.equal(relationshipsReadScope({ resourceType: 'internal' }), undefined, 'only the internal_ prefix')
  t.equal(relationshipsReadScope('x'), undefined)
})

t.test('scopesOf', async (t) => {
  t.same(scopesOf('public'), [])
  t.same(scopesOf('any-key'), [])
  t.same(scopesOf('check'), ['check'])
  t.same(scopesOf(['write', 'admin']), ['write', 'admin'])
})
