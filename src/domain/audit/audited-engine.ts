/**
 * The audit trail's layers of the engine stack. `AuditedEngine` is the top of the stack every
 * door writes through: each applied write is noted (in the capture the door runs in, or as a
 * record of its own). `DeletesJudged` is for a door that writes below it and notes afterwards
 * (grouped event writes: one call carries several events' writes, each noted in its own
 * capture).
 */
import { EngineLayer } from '../../engine/layer.js'
import type { EnginePort, Precondition, Relationship, RelationshipFilter, RelationshipUpdate } from '../../engine/port.js'
import { formatRelationship, formatSubject } from '../wire/refs.js'
import { change, formatFilter, MAX_LISTED_DELETES, type Auditor } from './auditor.js'

/**
 * The engine port with every applied write noted. A delete by filter lists what it deletes by
 * reading the matches just before (fully consistent); SpiceDB's count is recorded beside them.
 */
export class AuditedEngine extends EngineLayer {
  constructor(
    next: EnginePort,
    private readonly auditor: Auditor,
  ) {
    super(next)
  }

  override async writeRelationships(updates: RelationshipUpdate[], preconditions?: Precondition[]) {
    const absent = await absentDeletes(this.next, updates)
    const token = await this.next.writeRelationships(updates, preconditions)
    await this.auditor.noteWrite({ changes: updates.filter((u) => !absent.has(u)).map(change), token })
    return token
  }

  override async deleteRelationships(filter: RelationshipFilter, preconditions?: Precondition[]) {
    const before = await readMatches(this.next, filter)
    const answer = await this.next.deleteRelationships(filter, preconditions)
    if (answer.count > 0) {
      await this.auditor.noteWrite({
        changes: before.map((r) => ({ operation: 'delete', relationship: formatRelationship(r) })),
        token: answer.deletedAt,
        deleteFilter: formatFilter(filter),
        deletedCount: answer.count,
      })
    }
    return answer
  }
}

/**
 * For a caller that writes below the audit layer and notes afterwards (grouped event writes):
 * each write's deletes are judged first, and `changed` leaves out of the noted updates the
 * deletes that removed nothing.
 */
export class DeletesJudged extends EngineLayer {
  private readonly absent = new WeakSet<RelationshipUpdate>()

  override async writeRelationships(updates: RelationshipUpdate[], preconditions?: Precondition[]) {
    for (const u of await absentDeletes(this.next, updates)) this.absent.add(u)
    return this.next.writeRelationships(updates, preconditions)
  }

  /** the updates without the deletes that removed nothing */
  changed(updates: RelationshipUpdate[]): RelationshipUpdate[] {
    return updates.filter((u) => !this.absent.has(u))
  }
}

/** objects whose relationships are read to judge deletes; past this many, deletes are recorded as asked */
const MAX_OBJECTS_READ = 20

/**
 * The deletes of a write that would remove nothing (a plan deletes "just in case": a pairing
 * that may exist, a role that may be held). SpiceDB's write answers no more than a token, so
 * what exists is read just before, once per object named; the record then lists what changed,
 * not what was asked. Events touching one object are applied one at a time (the keyed lock),
 * so no event write lands between this read and the write.
 */
async function absentDeletes(engine: EnginePort, updates: RelationshipUpdate[]): Promise<Set<RelationshipUpdate>> {
  const deletes = updates.filter((u) => u.operation === 'delete')
  const byObject = new Map<string, RelationshipUpdate[]>()
  for (const u of deletes) {
    const key = `${u.relationship.resource.type}:${u.relationship.resource.id}`
    byObject.set(key, [...(byObject.get(key) ?? []), u])
  }
  const absent = new Set<RelationshipUpdate>()
  if (byObject.size === 0 || byObject.size > MAX_OBJECTS_READ) return absent
  await Promise.all(
    [...byObject.values()].map(async (list) => {
      const { resource } = list[0]!.relationship
      const page = await engine.readRelationships({ resourceType: resource.type, resourceId: resource.id }, { limit: 1000 }, { mode: 'fully_consistent' })
      if (page.cursor) return // more than one page: recorded as asked rather than read at length
      const present = new Set(page.relationships.map(key))
      for (const u of list) if (!present.has(key(u.relationship))) absent.add(u)
    }),
  )
  return absent
}

/** a relationship without its caveat: a delete names none */
const key = (r: Relationship) => `${r.resource.type}:${r.resource.id}#${r.relation}@${formatSubject(r.subject)}`

async function readMatches(engine: EnginePort, filter: RelationshipFilter): Promise<Relationship[]> {
  const out: Relationship[] = []
  let cursor: string | undefined
  do {
    const page = await engine.readRelationships(filter, { limit: 1000, cursor }, { mode: 'fully_consistent' })
    out.push(...page.relationships)
    cursor = page.cursor
  } while (cursor && out.length < MAX_LISTED_DELETES)
  return out.slice(0, MAX_LISTED_DELETES)
}
