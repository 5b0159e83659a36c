/**
 * Read-your-writes when the caller does pass a consistency: the write's own token (before the
 * fix, not enough on the embedded engine: SpiceDB #3212), or `fully_consistent` (before the
 * fix, not enough on the stock v1.54 server: its shared head-revision lookup). 16 loops,
 * 1,712 cycles each variant.
 */
import t from 'tap'
import { buildTestApp, testEngine } from '../helpers/app.js'
import { grantRevokeLoops, report } from '../helpers/read-your-writes.js'

const SHORT = Math.ceil(Number(process.env.RYW_CYCLES ?? 320) / 3)

t.test('16 grant/revoke/check loops, the write token passed: every check sees that write', async (t) => {
  const app = await buildTestApp(t)
  report(t, `${testEngine()}, one gateway, write token`, await grantRevokeLoops(app, app, 'token', 'tok', SHORT), SHORT, [app])
})

t.test('16 grant/revoke/check loops, the caller asks fully_consistent: never older than the write', async (t) => {
  const app = await buildTestApp(t)
  report(t, `${testEngine()}, one gateway, fully_consistent`, await grantRevokeLoops(app, app, 'fully_consistent', 'full', SHORT), SHORT, [app])
})
