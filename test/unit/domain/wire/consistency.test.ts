/** Consistency asked by callers, and the context the gateway controls (src/domain/wire/consistency.ts). */
import t from 'tap'
import { READ_YOUR_WRITES, resolveConsistency, withGatewayContext } from '../../../../src/domain/wire/consistency.js'

t.test('resolveConsistency', async (t) => {
  t.equal(resolveConsistency(undefined), READ_YOUR_WRITES, "the default reads the gateway's writes")
  t.same(READ_YOUR_WRITES, { mode: 'at_least_as_fresh' })
  t.ok(Object.isFrozen(READ_YOUR_WRITES))
  t.same(resolveConsistency({ mode: 'fully_consistent' }), { mode: 'fully_consistent' })
  t.same(resolveConsistency({ mode: 'minimize_latency', token: 'ignored' }), { mode: 'minimize_latency' }, 'a token only goes with at_least_as_fresh')
  t.same(resolveConsistency({ mode: 'at_least_as_fresh', token: 'tok' }), { mode: 'at_least_as_fresh', token: 'tok' })
  t.throws(() => resolveConsistency({ mode: 'at_least_as_fresh' }), { code: 'GW_INVALID_ARGUMENT', statusCode: 400, field: 'consistency.token' })
  t.throws(() => resolveConsistency({ mode: 'at_least_as_fresh', token: '' }, 'body.consistency'), { name: 'GatewayError', field: 'body.consistency.token' })
})

t.test("withGatewayContext: the gateway's clock, never the caller's", async (t) => {
  const now = new Date('2026-05-01T10:00:00Z')
  t.same(withGatewayContext(undefined, now), { now: '2026-05-01T10:00:00.000Z' })
  t.same(withGatewayContext({ a: 1 }, now), { a: 1, now: '2026-05-01T10:00:00.000Z' })
  t.throws(() => withGatewayContext({ now: '2000-01-01T00:00:00Z' }, now), { code: 'GW_RESERVED_CONTEXT', statusCode: 400, field: 'context.now' })
  t.throws(
    () => withGatewayContext({ now: undefined }, now, 'items.3.context'),
    { name: 'GatewayError', field: 'items.3.context.now' },
    'a present key, whatever its value',
  )
  const inherited = Object.create({ now: 'x' }) as Record<string, unknown>
  t.same(withGatewayContext(inherited, now), { now: '2026-05-01T10:00:00.000Z' }, "only own keys are the caller's")
})
