/**
 * The audit trail records what changed, not what was asked: a plan's deletes "just in case"
 * (a new client's primary coach's other pairing levels, which he cannot hold yet) removed nothing and are not listed.
 */
import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { apply, ev, seedOrg } from '../../helpers/events.js'

t.test('an event lists only the relationships it really wrote or deleted', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  const created = ev('client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'rob' })
  await apply(t, app, created)
  const paired = ev('pairing.set', { clientId: 'cassandra', coachId: 'cara', level: 'view_only' }, 'user:olivia')
  await apply(t, app, paired)
  const moved = ev('pairing.set', { clientId: 'cassandra', coachId: 'cara', level: 'coaching' }, 'user:olivia')
  await apply(t, app, moved)
  const records = (await app.inject({ method: 'GET', url: '/v1/audit?object=client:cassandra' })).json().records as {
    event?: { id: string }
    changes: { operation: string; relationship: string }[]
  }[]
  const visible = (id: string) =>
    records
      .find((r) => r.event?.id === id)!
      .changes.filter((c) => !c.relationship.startsWith('internal_'))
      .map((c) => `${c.operation} ${c.relationship}`)
  t.same(
    visible(created.id).sort(),
    ['touch client:cassandra#organization@organization:acme', 'touch client:cassandra#primary@user:rob'],
    'a new client: the pairing levels its plan deletes in case rob held them are not listed (he held none)',
  )
  t.same(visible(paired.id), ['touch client:cassandra#view_only@user:cara'], 'a first pairing deleted nothing')
  t.same(
    visible(moved.id).sort(),
    ['delete client:cassandra#view_only@user:cara', 'touch client:cassandra#coaching@user:cara'],
    'a level change deleted the old level only',
  )
})
