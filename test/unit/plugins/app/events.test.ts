/**
 * The pure parts of the events service (src/domain/events/apply/batch.ts): how a failure is counted,
 * and the shutdown answer. applyBatch, order and batchKeys read the engine and are covered end
 * to end (test/domain/events/events-batch-order.test.ts, test/domain/events/events-concurrency.test.ts); their ordering
 * rules are unit-tested in test/unit/domain/events/apply/ordering.test.ts and batch.test.ts.
 */
import t from 'tap'
import { outcomeOf, shuttingDown } from '../../../../src/domain/events/apply/batch.js'
import { GatewayError } from '../../../../src/domain/wire/errors.js'

t.test('outcomeOf: invalid, refused, or failed (transient)', async (t) => {
  t.equal(outcomeOf(new GatewayError('GW_INVALID_EVENT', 400, 'x')), 'invalid')
  t.equal(outcomeOf(new GatewayError('GW_FORBIDDEN', 403, 'x')), 'refused')
  t.equal(outcomeOf(new GatewayError('GW_ONE_ROLE', 409, 'x')), 'refused')
  t.equal(outcomeOf(new GatewayError('GW_UNKNOWN_OBJECT', 409, 'x')), 'refused')
  t.equal(outcomeOf(new GatewayError('GW_ENGINE_UNAVAILABLE', 503, 'x')), 'failed')
  t.equal(outcomeOf(new GatewayError('GW_INTERNAL', 500, 'x')), 'failed')
  t.equal(outcomeOf(new Error('boom')), 'failed', 'anything not ours is transient')
  t.equal(outcomeOf('a string'), 'failed')
})

t.test('shuttingDown: 503 naming what was applied and what to resend', async (t) => {
  const done = [{ id: 'e1', status: 'applied' as const, writtenAt: 't' }]
  const err = shuttingDown(done, ['e2', 'e3'])
  t.match(err, { code: 'GW_SHUTTING_DOWN', statusCode: 503, details: { results: done, notApplied: ['e2', 'e3'], failedIndex: 1 } })
  t.match(err.message, /1 event\(s\) were applied, 2 were not \(details\.notApplied\); resend them/)
  t.equal(shuttingDown([], ['e1'], 0).details?.failedIndex, 0)
  t.equal(shuttingDown(done, ['e0'], 0).details?.failedIndex, 0, 'an earlier index when events after it were applied')
})
