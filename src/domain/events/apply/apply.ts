/**
 * translateEvent: one event, one atomic SpiceDB write. The translator plans the write from a
 * fully consistent read, with preconditions pinning what it read; if another write changed
 * that state first, SpiceDB refuses ours (failed precondition) and the event is re-planned
 * from the new state, a bounded number of times. So concurrent events serialize: 50 events
 * making different coaches primary leave exactly one primary.
 */
import { EngineError, type EnginePort, type Precondition, type RelationshipUpdate } from '../../../engine/port.js'
import { fromEngineError } from '../../wire/engine-errors.js'
import { GatewayError } from '../../wire/errors.js'
import { authorizeActor } from '../authorize/actor.js'
import type { SchemaIndex } from '../../schema/subject-uses.js'
import type { DomainEvent } from '../contract/schemas.js'
import { TRANSLATORS, type TranslateContext } from '../translate/index.js'
import type { WritePlan } from '../translate/write-plan.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { jitteredMs } from '../../../timing.js'

export const MAX_ATTEMPTS = 100

export interface ApplyDeps {
  engine: EnginePort
  schema: SchemaIndex
  clock: () => Date
  /** how the write goes out: write-group.ts shares calls between events; default: alone */
  write?: (updates: RelationshipUpdate[], preconditions: Precondition[]) => Promise<string>
}

/** A precondition no longer holds (or the datastore aborted a conflicting write): re-plan. */
export function isWriteConflict(err: unknown): boolean {
  if (!(err instanceof EngineError) || err.kind !== 'failed_precondition') return false
  return err.grpcCode === 10 || /precondition|conflict|serializ|retry/i.test(err.message)
}

/** a write conflict's retry: jittered, so the writes that collided do not collide again (1, 2, 4 ... up to 50 ms) */
const pause = (attempt: number) => sleep(jitteredMs(attempt, 1, 50))

function plan(ctx: TranslateContext, event: DomainEvent): Promise<WritePlan> {
  const translate = TRANSLATORS[event.type] as (c: TranslateContext, e: DomainEvent) => Promise<WritePlan>
  return translate(ctx, event)
}

function write(deps: ApplyDeps, p: WritePlan, actorPins: Precondition[]): Promise<string> {
  const preconditions = [...p.preconditions, ...actorPins]
  return deps.write ? deps.write(p.updates, preconditions) : deps.engine.writeRelationships(p.updates, preconditions)
}

/**
 * Applies one validated event: actor check, then plan-and-write until the write lands.
 * Returns the ZedToken of the write. Throws GatewayError (4xx refusals, 503 engine trouble).
 */
export async function translateEvent(deps: ApplyDeps, event: DomainEvent): Promise<string> {
  try {
    const ctx: TranslateContext = { engine: deps.engine, schema: deps.schema, actorId: event.actor?.slice('user:'.length) }
    // The actor check and the first plan only read, so they run together (one round trip
    // less per event). The actor's refusal always wins: an actor without the permission must
    // not learn from a 409 what state the plan found.
    const [actor, first] = await Promise.allSettled([authorizeActor(deps.engine, event, deps.clock()), plan(ctx, event)])
    if (actor.status === 'rejected') throw actor.reason
    let actorPins = actor.value
    for (let attempt = 1; ; attempt++) {
      if (attempt === 1 && first.status === 'rejected') throw first.reason
      // The actor was judged on what the person held (actorPins); if that changed, judge again.
      if (attempt > 1 && actorPins.length > 0) actorPins = await authorizeActor(deps.engine, event, deps.clock())
      const p = attempt === 1 && first.status === 'fulfilled' ? first.value : await plan(ctx, event)
      try {
        return await write(deps, p, actorPins)
      } catch (err) {
        if (!isWriteConflict(err)) throw err
        if (attempt >= MAX_ATTEMPTS) {
          throw new GatewayError('GW_WRITE_CONTENTION', 503, `${event.type} ${event.id}: the state kept changing under ${MAX_ATTEMPTS} attempts; retry later`)
        }
        await pause(attempt)
      }
    }
  } catch (err) {
    throw fromEngineError(err)
  }
}
