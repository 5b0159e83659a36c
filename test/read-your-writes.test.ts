/**
 * Read-your-writes under concurrency through one gateway, on the engine the run asks for.
 *
 * Before the gateway tracked its write tokens these loops saw stale answers: on the stock
 * SpiceDB v1.54 server fully consistent reads share one in-flight head-revision lookup (a read
 * can be answered at a revision taken before its own write), and the in-memory datastore
 * records concurrent writes out of revision order (#3212), so even the write's own token was
 * not enough on the embedded engine. Figures: docs/consistency.md.
 */
import t from 'tap'
import { buildTestApp, testEngine } from './helpers/app.js'
import { seedOrg } from './helpers/events.js'
import { createThenUse, grantRevokeLoops, report } from './helpers/read-your-writes.js'

t.test('16 grant/revoke/check loops, no token passed: every check sees the acknowledged write', async (t) => {
  const app = await buildTestApp(t)
  report(t, `${testEngine()}, one gateway, no token`, await grantRevokeLoops(app, app, 'none', 'none'), undefined, [app])
})

t.test('an event using an object created by the event just before is never GW_UNKNOWN_OBJECT', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await createThenUse(t, app, app)
})
