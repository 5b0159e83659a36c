/**
 * Runs a race many times: each round sets up fresh objects, sends two events at the same
 * moment through two different gateway replicas (alternating which goes first), waits until
 * both settle and counts every invariant that no longer holds. An observer may poll one
 * object while the events are in flight, for states no serial order could produce even
 * briefly (a deleted object that still has relationships).
 */
import type { Test } from 'tap'
import type { TestApp } from './app.js'
import { post } from './events.js'
import { invariantViolations, type Universe } from './invariants.js'

export type Ids = (name: string) => string

export interface Race {
  name: string
  /**
   * the round's starting state, as the relationships the events that build it would leave
   * (written in one request: a round's setup then costs one write instead of a dozen events)
   */
  setup(id: Ids): string[]
  /** the two events sent at the same moment */
  race(id: Ids): [object, object]
  universe(id: Ids): Universe
  /** checks I6 (co-authors) too; off where a role change may legitimately follow a co-authorship */
  coAuthors?: boolean
  /** checks that depend on which of the two events were applied */
  verify?(app: TestApp, id: Ids, applied: [boolean, boolean]): Promise<string[]>
  /** polled while the events are in flight; one consistent read per call */
  observe?(app: TestApp, id: Ids): Promise<string[]>
}

export const ROUNDS = Number(process.env.TRELLIS_RACE_ROUNDS ?? 50)

export interface RaceTally {
  rounds: number
  bothApplied: number
  oneApplied: number
  violatingRounds: number
  violations: string[]
}

/**
 * Sends as a client would: a load-shedding 503 (GW_OVERLOADED: the event loop of this small
 * shared machine was saturated, nothing was done) is sent again, same event id, after a
 * pause. Any other answer counts.
 */
type Reply = Awaited<ReturnType<typeof post>>

async function sendRetryingOverload(send: () => Promise<Reply>) {
  for (let attempt = 1; ; attempt++) {
    const res = await send()
    if (res.statusCode !== 503 || res.json().code !== 'GW_OVERLOADED' || attempt >= 20) return res
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100))
  }
}

const send = (app: TestApp, event: object) => sendRetryingOverload(() => post(app, event))

async function observeUntil(done: () => boolean, observe: () => Promise<string[]>): Promise<string[]> {
  const seen: string[] = []
  for (let polls = 0; !done() && polls < 10_000; polls++) seen.push(...(await observe()))
  return seen
}

export async function runRace(t: Test, apps: TestApp[], race: Race, rounds = ROUNDS): Promise<RaceTally> {
  const tally: RaceTally = { rounds, bothApplied: 0, oneApplied: 0, violatingRounds: 0, violations: [] }
  const tag = race.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)
  for (let round = 0; round < rounds; round++) {
    const id: Ids = (name) => `${name}-${tag}-${round}`
    const updates = race.setup(id).map((relationship) => ({ operation: 'touch', relationship }))
    const setup = await sendRetryingOverload(() => apps[0]!.inject({ method: 'POST', url: '/v1/relationships', payload: { updates } }))
    if (setup.statusCode !== 200) throw new Error(`${race.name} round ${round}: setup failed: ${setup.body}`)
    const [first, second] = race.race(id)
    // Alternate which replica gets which event and which is dispatched first.
    const [a, b] = round % 2 ? [apps[0]!, apps[1 % apps.length]!] : [apps[1 % apps.length]!, apps[0]!]
    let settled = false
    const sent = round % 4 < 2 ? [send(a, first), send(b, second)] : [send(b, second), send(a, first)].reverse()
    const both = Promise.all(sent).finally(() => (settled = true))
    const observed = race.observe
      ? observeUntil(
          () => settled,
          () => race.observe!(apps[0]!, id),
        )
      : Promise.resolve([])
    const [responses, during] = await Promise.all([both, observed])
    const problems: string[] = [...new Set(during)].map((v) => `while in flight: ${v}`)
    for (const [i, res] of responses.entries()) {
      if (![200, 403, 409].includes(res.statusCode)) problems.push(`event ${i} answered ${res.statusCode}: ${res.body}`)
    }
    const applied: [boolean, boolean] = [responses[0]!.statusCode === 200, responses[1]!.statusCode === 200]
    if (applied[0] && applied[1]) tally.bothApplied++
    else if (applied[0] || applied[1]) tally.oneApplied++
    problems.push(...(await invariantViolations(apps[0]!, race.universe(id), { coAuthors: race.coAuthors })))
    if (race.verify) problems.push(...(await race.verify(apps[0]!, id, applied)))
    if (problems.length > 0) {
      tally.violatingRounds++
      tally.violations.push(...problems.map((p) => `round ${round}: ${p}`))
    }
  }
  t.comment(`${race.name}: ${tally.violatingRounds}/${rounds} rounds broke an invariant; both applied in ${tally.bothApplied}, one in ${tally.oneApplied}`)
  return tally
}

/** Runs the race and asserts that no round broke an invariant, showing the first few that did. */
export async function assertRace(t: Test, apps: TestApp[], race: Race, rounds = ROUNDS) {
  const tally = await runRace(t, apps, race, rounds)
  t.equal(tally.violatingRounds, 0, `${race.name}: 0 of ${rounds} rounds break an invariant`, { violations: tally.violations.slice(0, 8) })
  return tally
}
