/**
 * Write guards: how two events about different objects that must not interleave are made to
 * conflict inside SpiceDB itself, so the rule holds across gateway replicas.
 *
 * A precondition only catches a concurrent write to the relationship it names. A deactivation
 * that reads "X pairs with no client of A" cannot name the pairing a concurrent `pairing.set`
 * is about to add (a filter cannot say "clients of A"). So both name one relationship instead:
 * the guard of the person (or of the object being deleted), `internal_guard:<key>#version@
 * internal_guard:<version>`. Every event that depends on or changes what the guard protects
 * reads it BEFORE anything else, and in its write requires the version it read, deletes it and
 * writes a new one. Of two such events, whichever lands second finds the version gone and is
 * re-planned from a state that includes the first. Touching the same relationship would not
 * do: a precondition cannot tell a rewritten relationship from an untouched one.
 *
 * Versions never repeat (a hash of the event id and the versions it replaced), so a version
 * read earlier can only still be there if no guarded event landed since. No permission reads
 * `internal_guard`; guards change no answer.
 */
import { createHash } from 'node:crypto'
import type { EnginePort, Relationship } from '../../../engine/port.js'
import { obj, readAll, tuple, type WritePlan } from './write-plan.js'

export const GUARD_TYPE = 'internal_guard'
const VERSION = 'version'

export interface Guard {
  key: string
  /** the version relationship as read: one, or none before the first guarded event */
  versions: Relationship[]
}

// Ids never contain a newline, so the joined parts are unambiguous; hex fits SpiceDB's id alphabet.
const digest = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 40)

/** everything a person holds, in every organization: roles, privileges, pairings, memberships */
export const personGuard = (userId: string) => digest('user', userId)

/** an object that a deletion event removes with everything pointing at it (program, client, group) */
export const objectGuard = (type: string, id: string) => digest(type, id)

/** Reads the guards; call it before reading the state they protect. */
export async function readGuards(engine: EnginePort, keys: string[]): Promise<Guard[]> {
  const unique = [...new Set(keys)]
  const found = await Promise.all(unique.map((key) => readAll(engine, { resourceType: GUARD_TYPE, resourceId: key, relation: VERSION })))
  return unique.map((key, i) => ({ key, versions: found[i]! }))
}

function pin(plan: WritePlan, guard: Guard) {
  if (guard.versions.length === 0) plan.forbid({ resourceType: GUARD_TYPE, resourceId: guard.key })
  for (const v of guard.versions) plan.require(v).remove(v)
}

/** The write fails if another guarded event landed since the read, and makes later ones fail. */
export function rotate(plan: WritePlan, guards: Guard[], eventId: string): WritePlan {
  for (const guard of guards) {
    pin(plan, guard)
    const next = digest(eventId, guard.key, ...guard.versions.map((v) => v.subject.id))
    plan.touch(tuple(obj(GUARD_TYPE, guard.key), VERSION, obj(GUARD_TYPE, next)))
  }
  return plan
}

/**
 * For a deletion: pins the guard like `rotate` and removes it with the object. A later event
 * that reads no guard pins its absence; "absent" is the state of an object with no
 * relationships at all, so a plan made from it stays valid if the object is created and
 * deleted again meanwhile.
 */
export function retire(plan: WritePlan, guard: Guard): WritePlan {
  pin(plan, guard)
  return plan
}
