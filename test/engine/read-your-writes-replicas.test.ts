/**
 * Read-your-writes across replicas: two gateways over one engine sharing one Redis (remote:
 * two apps over one stock SpiceDB v1.54 server; embedded: two apps over one engine). Writes go
 * through one, reads through the other, and no caller passes a token.
 */
import t from 'tap'
import { requirePart, testEngine } from '../helpers/app.js'
import { apply, ev, seedOrg } from '../helpers/events.js'
import { createThenUse, grantRevokeLoops, redisUrl, report, twoReplicas } from '../helpers/read-your-writes.js'

t.test('two replicas sharing Redis: writes through one, checks through the other, no token', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const [a, b] = await twoReplicas(t)
  report(t, `${testEngine()}, two replicas, no token`, await grantRevokeLoops(a, b, 'none', 'rep'), undefined, [a, b])
})

t.test('an event using an object created through the other replica just before', async (t) => {
  if (!requirePart(t, 'redis', Boolean(redisUrl))) return
  const [a, b] = await twoReplicas(t)
  await seedOrg(t, a)
  await apply(t, a, ev('organization.member_added', { organizationId: 'acme', userId: 'zoe', role: 'coach' }))
  await createThenUse(t, a, b)
})
