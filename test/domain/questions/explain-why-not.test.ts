/**
 * Why not, as an admin reads it: explain's `tried` comes in one order on every call (SpiceDB
 * evaluates branches concurrently, so its trace does not), and a "no" says what the subject
 * does hold on the object and what would grant the permission ("rob holds view_only; coach
 * needs primary or coaching, or an organization role that coaches all clients").
 */
import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { apply, ev, seedOrg } from '../../helpers/events.js'

t.test('why not: a stable list of what was tried, what rob holds, and what would grant coach', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(
    t,
    app,
    ev('client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'cara' }),
    ev('pairing.set', { clientId: 'cassandra', coachId: 'rob', level: 'view_only' }),
  )
  const ask = async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/explain', payload: { resource: 'client:cassandra', permission: 'coach', subject: 'user:rob' } })
    t.equal(res.statusCode, 200, res.body)
    return res.json() as { allowed: boolean; tried: { relation: string; result: string }[]; holds?: string[]; grantedBy?: string }
  }
  const answers = []
  for (let i = 0; i < 6; i++) answers.push(await ask())
  const orders = new Set(answers.map((a) => JSON.stringify(a.tried)))
  t.equal(orders.size, 1, `six identical calls, one order of tried: ${[...orders].join(' | ')}`)
  const tried = answers[0]!.tried.map((a) => a.relation)
  t.ok(tried.length > 1, `more than one thing was tried: ${tried}`)
  t.same(tried, [...tried].sort(), 'in the order of the relations tried')
  t.equal(answers[0]!.allowed, false)
  t.same(answers[0]!.holds, ['view_only'], 'what rob does hold on cassandra')
  t.equal(answers[0]!.grantedBy, 'primary + coaching + organization->can_coach_all_clients', 'what would grant coach')

  const none = await app.inject({ method: 'POST', url: '/v1/explain', payload: { resource: 'client:cassandra', permission: 'coach', subject: 'user:alex' } })
  t.same(none.json().holds, [], 'a person holding nothing on it: an empty list, not a missing one')
  const yes = await app.inject({ method: 'POST', url: '/v1/explain', payload: { resource: 'client:cassandra', permission: 'coach', subject: 'user:cara' } })
  t.equal(yes.json().allowed, true)
  t.notOk('holds' in yes.json(), 'a yes needs no why-not')
})
