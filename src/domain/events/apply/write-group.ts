/**
 * Group commit for event writes: while one write is in flight, the writes of other events wait
 * and then go to SpiceDB together, as one atomic WriteRelationships call carrying every update
 * and every precondition. The embedded engine runs writes one at a time (SpiceDB #3212), and a
 * write on Postgres costs a commit, so many events per call is where their throughput comes from.
 *
 * Each event keeps its guarantees: its updates land with it or not at all (the call is atomic),
 * and its preconditions are checked at the revision the call commits at, as when it was alone.
 * What grouping must not do is let one event's updates go unseen by another's preconditions
 * (SpiceDB checks preconditions against the state before the call): two events where an update
 * of one matches a precondition of the other (a guard both rotate, a relationship one forbids
 * and the other creates), or that update the same relationship, never share a call. If a shared
 * call fails, each of its events is written alone, so each gets its own answer (written, or its
 * precondition failed and it re-plans).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { EngineError, type EnginePort, type Precondition, type Relationship, type RelationshipFilter, type RelationshipUpdate } from '../../../engine/port.js'
import { formatRelationship } from '../../wire/refs.js'

/** SpiceDB's default limits per call are 1,000 updates and 1,000 preconditions; stay under them. */
const MAX_UPDATES = 900
const MAX_PRECONDITIONS = 900

interface Pending {
  /** runs a function in the async context of the event that asked (its audit capture) */
  inContext: <R>(fn: () => R) => R
  updates: RelationshipUpdate[]
  preconditions: Precondition[]
  keys: Set<string>
  resolve(token: string): void
  reject(err: unknown): void
}

const keyOf = (r: Relationship) => formatRelationship({ ...r, caveat: undefined })

/** Conservative: a filter's subject without a relation matches every relation of that subject. */
function matches(f: RelationshipFilter, r: Relationship): boolean {
  if (f.resourceType !== r.resource.type) return false
  if (f.resourceId !== undefined && f.resourceId !== r.resource.id) return false
  if (f.relation !== undefined && f.relation !== r.relation) return false
  if (!f.subject) return true
  if (f.subject.type !== r.subject.type || f.subject.id !== r.subject.id) return false
  return f.subject.relation === undefined || f.subject.relation === r.subject.relation
}

const sees = (a: Pending, b: Pending) => a.preconditions.some((p) => b.updates.some((u) => matches(p.filter, u.relationship)))

function conflict(a: Pending, b: Pending): boolean {
  for (const k of a.keys) if (b.keys.has(k)) return true
  return sees(a, b) || sees(b, a)
}

export class WriteGroup {
  private readonly queue: Pending[] = []
  private busy = false
  /** calls made and events written, for the benchmark */
  readonly stats = { calls: 0, events: 0 }

  /**
   * `engine` takes the calls; `applied` runs once per event after its write landed, in that
   * event's own async context (the audit notes each event's part in the event's own record).
   */
  constructor(
    private readonly engine: EnginePort,
    private readonly applied: (updates: RelationshipUpdate[], token: string) => Promise<void> = async () => {},
  ) {}

  write(updates: RelationshipUpdate[], preconditions: Precondition[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const keys = new Set(updates.map((u) => keyOf(u.relationship)))
      this.queue.push({ inContext: AsyncLocalStorage.snapshot(), updates, preconditions, keys, resolve, reject })
      if (!this.busy) void this.drain()
    })
  }

  /** The oldest waiting write, and every later one that fits with all those taken. */
  private take(): Pending[] {
    const group: Pending[] = []
    let updates = 0
    let preconditions = 0
    for (let i = 0; i < this.queue.length;) {
      const p = this.queue[i]!
      const fits = updates + p.updates.length <= MAX_UPDATES && preconditions + p.preconditions.length <= MAX_PRECONDITIONS
      if (group.length === 0 || (fits && !group.some((g) => conflict(g, p)))) {
        group.push(p)
        updates += p.updates.length
        preconditions += p.preconditions.length
        this.queue.splice(i, 1)
      } else i++
    }
    return group
  }

  private async drain() {
    this.busy = true
    try {
      while (this.queue.length > 0) await this.send(this.take())
    } finally {
      this.busy = false
    }
  }

  private async send(group: Pending[]) {
    this.stats.calls++
    this.stats.events += group.length
    let token: string
    try {
      token = await this.engine.writeRelationships(
        group.flatMap((p) => p.updates),
        group.flatMap((p) => p.preconditions),
      )
    } catch (err) {
      if (group.length === 1 || (err instanceof EngineError && err.kind === 'unavailable')) {
        for (const p of group) p.reject(err)
        return
      }
      // Whose precondition failed is not said: each event is written alone for its own answer.
      for (const p of group) await this.send([p])
      return
    }
    // Applied: never written again, whatever noting it does (the audit keeps its own failures).
    for (const p of group) {
      await p.inContext(() => this.applied(p.updates, token)).catch(() => undefined)
      p.resolve(token)
    }
  }
}
