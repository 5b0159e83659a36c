/** Backoff and answer deadlines (src/timing.ts). */
import t from 'tap'
import { backoffMs, jitteredMs, within } from '../../src/timing.js'

t.test('backoff doubles from the base and stops at the cap', async (t) => {
  t.same(
    [1, 2, 3, 4, 5].map((a) => backoffMs(a, 500, 5000)),
    [500, 1000, 2000, 4000, 5000],
  )
  t.equal(backoffMs(0, 50, 5000), 50, 'attempt 0 waits the base too')
  t.equal(backoffMs(60, 1, 50), 50, 'no overflow past the cap')
})

t.test('jitter spreads a wait between nothing and the backoff', async (t) => {
  t.equal(
    jitteredMs(3, 1, 50, () => 0),
    0,
  )
  t.equal(
    jitteredMs(3, 1, 50, () => 0.5),
    2,
  )
  t.ok(jitteredMs(10, 1, 50, () => 0.999) < 50)
})

t.test('within: the answer when it comes in time, else what `late` gives', async (t) => {
  // within's timer does not hold the process open (a server is held open by its sockets): this test holds it
  const hold = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(hold))
  t.equal(await within(Promise.resolve(7), 1000, () => 0), 7)
  t.equal(await within(new Promise<number>(() => {}), 20, () => -1), -1)
  await t.rejects(
    within(new Promise<number>(() => {}), 20, () => {
      throw new Error('no answer')
    }),
    /no answer/,
  )
  await t.rejects(
    within(Promise.reject(new Error('failed')), 1000, () => 0),
    /failed/,
    'a failure is passed on',
  )
})
