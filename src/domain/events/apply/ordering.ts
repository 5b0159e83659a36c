/**
 * Which events of a batch may be applied at the same time. A batch keeps the meaning of "in
 * order": an event runs concurrently with earlier ones only when nothing it reads or writes can
 * be changed by them. Two events may affect each other when they share a key: the organization
 * the event acts in (every object belongs to one, and invariants, deletions and actor
 * permissions all stay inside it), every person it names (guards and deactivations span
 * organizations), every object it names, and its id (a repeated id is a duplicate of the first).
 * Events with no organization (user-level relations, certificates) or whose object's
 * organization is unknown are barriers: they wait for everything before them and everything
 * after waits for them, because what they change is not bounded by one organization.
 *
 * Concurrency never replaces a precondition: the write of every event still pins what its plan
 * read, so two events that the keys wrongly let run together would collide in SpiceDB and
 * re-plan, exactly as events from two replicas do. The keys only decide observable order.
 */
import type { DomainEvent } from '../contract/schemas.js'

/** data fields naming objects that belong to an organization, and their type */
const OBJECT_FIELDS: Record<string, string> = {
  programId: 'program',
  clientId: 'client',
  groupId: 'group',
  courseId: 'course',
  sectionId: 'section',
  certificateId: 'certificate',
}
/** data fields naming people */
const PERSON_FIELDS = ['userId', 'ownerId', 'newOwnerId', 'primaryCoachId', 'coachId', 'managerId', 'learnerId']

/** object types whose `organization` relationship says which organization they belong to */
export const ORGANIZED_TYPES = new Set(['program', 'client', 'group', 'course'])

/** the objects the event names, as `type:id` */
function objectsNamed(event: DomainEvent): string[] {
  const data = event.data as Record<string, unknown>
  return Object.entries(OBJECT_FIELDS)
    .filter(([field]) => typeof data[field] === 'string')
    .map(([field, type]) => `${type}:${data[field] as string}`)
}

/**
 * The objects the event names whose organization must be looked up, as `type:id`. None when the
 * event names its organization (the creations): what it finds about an object that exists
 * elsewhere (a refusal) depends only on events naming that object, which share its key.
 */
export function namedObjects(event: DomainEvent): string[] {
  if (typeof (event.data as Record<string, unknown>).organizationId === 'string') return []
  return objectsNamed(event).filter((o) => ORGANIZED_TYPES.has(o.slice(0, o.indexOf(':'))))
}

/**
 * The organizations objects are created in by the batch's own events: an event about an object
 * created earlier in the batch belongs with that organization even before it exists.
 */
export function createdInBatch(events: DomainEvent[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const event of events) {
    const data = event.data as Record<string, unknown>
    if (!event.type.endsWith('.created') || typeof data.organizationId !== 'string') continue
    for (const object of objectsNamed(event).filter((o) => ORGANIZED_TYPES.has(o.slice(0, o.indexOf(':'))))) {
      if (!out.has(object)) out.set(object, new Set())
      out.get(object)!.add(data.organizationId)
    }
  }
  return out
}

/**
 * The keys of an event, or `undefined` for a barrier. `organizationsOf` answers the
 * organizations an object belongs to (read from the engine, plus those the batch creates it in);
 * an empty answer makes the event a barrier.
 */
export function eventKeys(event: DomainEvent, organizationsOf: (object: string) => Iterable<string>): string[] | undefined {
  const data = event.data as Record<string, unknown>
  const keys = new Set<string>([`id:${event.id}`])
  const orgs = new Set<string>()
  if (typeof data.organizationId === 'string') orgs.add(data.organizationId)
  for (const object of objectsNamed(event)) keys.add(object)
  for (const object of namedObjects(event)) {
    const found = [...organizationsOf(object)]
    if (found.length === 0) return undefined
    for (const o of found) orgs.add(o)
  }
  if (orgs.size === 0) return undefined
  for (const o of orgs) keys.add(`organization:${o}`)
  for (const field of PERSON_FIELDS) if (typeof data[field] === 'string') keys.add(`user:${data[field] as string}`)
  if (event.actor) keys.add(event.actor)
  return [...keys]
}

/**
 * Runs `work(i)` for every index, each after every earlier index that shares a key with it
 * (a barrier shares a key with everything), at most `limit` at a time, starting in index order
 * among those ready. `keysOf(i)` undefined: a barrier. Resolves when every started work settled.
 */
export async function runOrdered(count: number, keysOf: (i: number) => string[] | undefined, limit: number, work: (i: number) => Promise<void>) {
  const lastByKey = new Map<string, Promise<void>>()
  let sinceBarrier: Promise<void>[] = []
  let barrier: Promise<void> = Promise.resolve()
  let running = 0
  const waiting: (() => void)[] = []
  const slot = async () => {
    if (running < limit) return void running++
    await new Promise<void>((resolve) => waiting.push(resolve))
  }
  const release = () => {
    const next = waiting.shift()
    if (next) next()
    else running--
  }
  const all: Promise<void>[] = []
  for (let i = 0; i < count; i++) {
    const keys = keysOf(i)
    const deps = keys === undefined ? [barrier, ...sinceBarrier] : [barrier, ...keys.map((k) => lastByKey.get(k)).filter((p) => p !== undefined)]
    const done = (async () => {
      await Promise.all(deps)
      await slot()
      try {
        await work(i)
      } finally {
        release()
      }
    })().catch(() => undefined)
    all.push(done)
    if (keys === undefined) {
      barrier = done
      sinceBarrier = []
      lastByKey.clear()
    } else {
      sinceBarrier.push(done)
      for (const k of keys) lastByKey.set(k, done)
    }
  }
  await Promise.all(all)
}
