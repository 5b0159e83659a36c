import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'

t.test('check answers from the real embedded engine and fails closed on bad input', async (t) => {
  const app = await buildTestApp(t)
  const write = await app.engine.writeRelationships([
    { operation: 'touch', relationship: { resource: { type: 'program', id: 'p1' }, relation: 'facilitator', subject: { type: 'user', id: 'ana' } } },
  ])
  t.ok(write)
  const yes = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource: 'program:p1', permission: 'run', subject: 'user:ana' } })
  t.equal(yes.statusCode, 200)
  t.match(yes.json(), { allowed: true, permissionship: 'has_permission' })
  const no = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource: 'program:p1', permission: 'edit_content', subject: 'user:ana' } })
  t.match(no.json(), { allowed: false, permissionship: 'no_permission' })
  const bad = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource: 'program', permission: 'run', subject: 'user:ana' } })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 'GW_VALIDATION', field: 'body.resource' })
  const unknown = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource: 'program:p1', permission: 'fly', subject: 'user:ana' } })
  t.equal(unknown.statusCode, 400)
  t.match(unknown.json(), { code: 'GW_UNKNOWN_PERMISSION', field: 'permission' })
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  const bulk = await app.inject({
    method: 'POST',
    url: '/v1/check/bulk',
    payload: {
      items: [
        { resource: 'program:p1', permission: 'run', subject: 'user:ana' },
        { resource: 'program:p1', permission: 'fly', subject: 'user:ana' },
        { resource: 'program:p1', permission: 'view', subject: 'user:bob' },
      ],
    },
  })
  // answered in the order asked; the item the engine cannot answer fails closed on its own
  t.equal(bulk.statusCode, 200, bulk.body)
  const { results, checkedAt } = bulk.json()
  t.equal(results.length, 3, 'one result per item')
  t.same(results[0], { allowed: true, permissionship: 'has_permission' }, 'items.0: ana runs p1')
  t.match(
    results[1],
    { allowed: false, permissionship: 'no_permission', error: /fly/ },
    'items.1: an unknown permission is an error of that item, never allowed',
  )
  t.same(results[2], { allowed: false, permissionship: 'no_permission' }, 'items.2: bob has no view on p1, and that is no error')
  t.type(checkedAt, 'string')
  t.ok(checkedAt.length > 0, 'the revision the answers are of')
})
