import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { SEEDED_RESOURCES, SEEDED_SUBJECTS, seedDomain } from '../../helpers/domain-seed.js'
import { isPublicPermission, publicPermissions } from '../../../src/domain/questions/permissions.js'

interface Answer {
  resource: string
  subject: string
  permissions: { permission: string; allowed: boolean; permissionship: string; missingContext?: string[] }[]
  checkedAt: string
}

t.test('every public permission of each type, and only those, from the schema in force', async (t) => {
  const app = await buildTestApp(t)
  const byType = publicPermissions(app.schemaText)
  t.same(byType.get('client'), ['listed_coach', 'view', 'coach', 'notify', 'schedule_appointment', 'issue_invoice', 'delete', 'manage', 'manage_pairing'])
  t.same(byType.get('group'), ['view_happenings', 'view', 'manage', 'manage_coaches'], 'internal_coach and internal_delete left out')
  t.same(byType.get('user'), ['view_learning_stats'])
  const org = byType.get('organization')!
  for (const name of ['manage_billing', 'seat', 'add_client', 'can_view_all_clients', 'can_manage_admin_privileges', 'grant_admin_privileges'])
    t.ok(org.includes(name), name)
  t.notOk(org.includes('pairable'))
  t.notOk(org.some((n) => n.startsWith('internal_')))
  t.notOk(isPublicPermission('internal_seat'))
})

t.test('the permissions endpoint agrees with one /v1/check per permission over a seeded domain', async (t) => {
  const app = await buildTestApp(t)
  await seedDomain(t, app)
  const byType = publicPermissions(app.schemaText)
  let compared = 0
  let allowed = 0
  const disagreements: string[] = []
  for (const resource of SEEDED_RESOURCES) {
    for (const subject of SEEDED_SUBJECTS) {
      const res = await app.inject({ method: 'POST', url: '/v1/permissions', payload: { resource, subject } })
      t.equal(res.statusCode, 200, `${resource} ${subject}`)
      const answer = res.json() as Answer
      t.ok(answer.checkedAt, 'a checkedAt token')
      t.same(
        answer.permissions.map((p) => p.permission),
        byType.get(resource.split(':')[0]!),
      )
      for (const p of answer.permissions) {
        const one = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource, permission: p.permission, subject } })
        const single = one.json()
        compared++
        if (p.allowed) allowed++
        if (single.allowed !== p.allowed || single.permissionship !== p.permissionship) {
          disagreements.push(`${resource} ${p.permission} ${subject}: ${JSON.stringify(p)} vs ${one.body}`)
        }
      }
    }
  }
  t.same(disagreements, [], `${compared} answers compared, ${allowed} allowed`)
  t.ok(allowed > 50 && allowed < compared - 50, 'the seeded domain grants some and refuses some')
})

t.test('answers at one revision, in one engine call', async (t) => {
  const app = await buildTestApp(t)
  await seedDomain(t, app)
  const engine = app.engine
  let calls = 0
  const check = engine.check.bind(engine)
  engine.check = async (items, c) => {
    calls++
    return check(items, c)
  }
  const res = await app.inject({ method: 'POST', url: '/v1/permissions', payload: { resource: 'client:cassandra', subject: 'user:rob' } })
  engine.check = check
  t.equal(calls, 1, 'one engine call for nine permissions')
  const answer = res.json() as Answer
  const by = Object.fromEntries(answer.permissions.map((p) => [p.permission, p.allowed]))
  t.same(by, {
    listed_coach: true,
    view: true,
    coach: true,
    notify: true,
    schedule_appointment: true,
    issue_invoice: false,
    delete: false,
    manage: false,
    manage_pairing: false,
  })
})

t.test('bad input is a 400 naming the field, and no engine call', async (t) => {
  const app = await buildTestApp(t)
  const unknown = await app.inject({ method: 'POST', url: '/v1/permissions', payload: { resource: 'spaceship:x', subject: 'user:rob' } })
  t.equal(unknown.statusCode, 400)
  t.match(unknown.json(), { code: 'GW_UNKNOWN_TYPE', field: 'resource' })
  const bad = await app.inject({ method: 'POST', url: '/v1/permissions', payload: { resource: 'client:c1', subject: 'rob' } })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { field: 'body.subject' })
  const reserved = await app.inject({
    method: 'POST',
    url: '/v1/permissions',
    payload: { resource: 'section:s1', subject: 'user:rob', context: { now: '2000-01-01T00:00:00Z' } },
  })
  t.equal(reserved.statusCode, 400)
  t.match(reserved.json(), { code: 'GW_RESERVED_CONTEXT' })
  const token = await app.inject({
    method: 'POST',
    url: '/v1/permissions',
    payload: { resource: 'client:c1', subject: 'user:rob', consistency: { mode: 'at_least_as_fresh' } },
  })
  t.equal(token.statusCode, 400)
  t.match(token.json(), { field: 'consistency.token' })
})

t.test('fails closed: an engine failure is a 503, never a list of allows', async (t) => {
  const app = await buildTestApp(t)
  const check = app.engine.check.bind(app.engine)
  const { EngineError } = await import('../../../src/engine/port.js')
  app.engine.check = async () => {
    throw new EngineError('unavailable', 'down')
  }
  const res = await app.inject({ method: 'POST', url: '/v1/permissions', payload: { resource: 'client:c1', subject: 'user:rob' } })
  app.engine.check = check
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'GW_ENGINE_UNAVAILABLE')
})
