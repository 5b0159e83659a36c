/**
 * The re-authorization rule of long-lived responses on its own (src/domain/callers/authorization-hold.ts):
 * a periodic re-check catches what no notification announced, a credential's own expiry ends
 * it on time (the slot OIDC tokens will use), a notification re-checks at once, and a check
 * that throws counts as "not allowed".
 */
import t from 'tap'
import { holdAuthorization, type Credential } from '../../../src/domain/callers/authorization-hold.js'
import { GatewayError } from '../../../src/domain/wire/errors.js'

const denied = new GatewayError('GW_UNAUTHORIZED', 401, 'gone')
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('the periodic re-check ends a hold that no notification announced', async (t) => {
  let valid = true
  const lost: GatewayError[] = []
  const stop = holdAuthorization({ recheck: () => (valid ? undefined : denied) }, { everyMs: 30, onLost: (r) => lost.push(r) })
  await wait(100)
  t.same(lost, [], 'held while valid')
  valid = false
  await wait(150)
  t.same(lost, [denied], 'lost once, with the reason')
  stop()
})

t.test("a credential's expiry ends the hold at that moment, whatever the period", async (t) => {
  const expiresAt = Date.now() + 150
  const credential: Credential = {
    recheck: () => (Date.now() >= expiresAt ? new GatewayError('GW_UNAUTHORIZED', 401, 'the token expired') : undefined),
    expiresAt,
  }
  const at: number[] = []
  holdAuthorization(credential, { everyMs: 60_000, onLost: () => at.push(Date.now()) })
  // ended by the expiry, not by the minute-long period: no time bound finer than that, since a
  // loaded machine fires timers late
  for (const until = Date.now() + 20_000; at.length === 0 && Date.now() < until;) await wait(20)
  t.equal(at.length, 1, 'lost once')
  t.ok(at[0]! >= expiresAt, 'not before the expiry')
  t.ok(at[0]! - expiresAt < 30_000, `long before the next periodic re-check (lost ${at[0]! - expiresAt} ms after expiry)`)
})

t.test('an expired token ends the hold even though its own re-check still passes (its scopes do not lapse)', async (t) => {
  const expiresAt = Date.now() + 100
  const reasons: GatewayError[] = []
  // what auth.ts builds for an OIDC token: the re-check looks at scopes only
  holdAuthorization({ recheck: () => undefined, expiresAt }, { everyMs: 60_000, onLost: (r) => reasons.push(r) })
  for (const until = Date.now() + 20_000; reasons.length === 0 && Date.now() < until;) await wait(20)
  t.equal(reasons.length, 1, 'lost at the expiry, not a minute later')
  t.match(reasons[0], { code: 'GW_UNAUTHORIZED', statusCode: 401, message: /expired/ })
})

t.test('a credential already past its expiry is refused at once', async (t) => {
  const reasons: GatewayError[] = []
  holdAuthorization({ recheck: () => undefined, expiresAt: Date.now() - 1 }, { everyMs: 60_000, onLost: (r) => reasons.push(r) })
  t.equal(reasons.length, 1)
})

t.test('a change notification re-checks at once; stop unsubscribes; a throwing check is a refusal', async (t) => {
  let notify: (() => void) | undefined
  let valid = true
  const lost: string[] = []
  const stop = holdAuthorization(
    { recheck: () => (valid ? undefined : denied), onChange: (l) => ((notify = l), () => (notify = undefined)) },
    { everyMs: 60_000, onLost: (r) => lost.push(r.code) },
  )
  valid = false
  notify!()
  t.same(lost, ['GW_UNAUTHORIZED'], 'synchronously on the notification')
  t.equal(notify, undefined, 'unsubscribed once lost')
  stop()

  const thrown: string[] = []
  holdAuthorization(
    {
      recheck: () => {
        throw new GatewayError('GW_ENGINE_UNAVAILABLE', 503, 'x')
      },
    },
    { everyMs: 60_000, onLost: (r) => thrown.push(r.code) },
  )
  t.same(thrown, ['GW_ENGINE_UNAVAILABLE'], 'a failing check is never "allowed"')
})
