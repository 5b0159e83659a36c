import t from 'tap'
import { buildTestApp } from './helpers/app.js'

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
  const bulk = await app.inject({ method: 'POST', url: '/v1/check/bulk', payload: { items: [
    { resource: 'program:p1', permission: 'run', subject: 'user:ana' },
    { resource: 'program:p1', permission: 'fly', subject: 'user:ana' },
    { resource: 'program:p1', permission: 'view', subject: 'user:bob' },
  ] } })
  t.equal(bulk.statusCode, 200, 'one bad item does not fail the others')
  const [run, fly, view] = bulk.json().results
  t.match(run, { allowed: true, permissionship: 'has_permission' }, 'the facilitator runs the program')
  t.match(fly, { allowed: false, permissionship: 'no_permission', error: /fly/ }, 'an unknown permission fails closed, naming it')
  t.match(view, { allowed: false, permissionship: 'no_permission' }, 'bob holds nothing')
})
