/**
 * The invariants on a whole set at once (an import, a reconcile's difference): the same
 * `judge()` direct writes use, asked object by object over an index of the set and of the live
 * relationships it lands on, so the state it judges is the state the set would leave. Only what
 * an invariant reads is indexed (the governed relations and every `#organization` link), as
 * numbers (compact-relationships.ts): a million relationships cost tens of megabytes.
 */
import type { Relationship, RelationshipUpdate } from '../../engine/port.js'
import { GatewayError } from '../wire/errors.js'
import { isGoverned, judge, matches, type JudgedState, type Scope } from '../relationships/invariants.js'
import { formatSubject } from '../wire/refs.js'
import { ADD, BY_SUBJECT, CompactRelationships, DELETE, GOVERNED, LIVE, type Ordered } from './compact-relationships.js'

export interface Violation {
  /** the line that breaks it (for a second primary: the later one) */
  line: number
  /** every line of the object the judgement found at fault */
  lines: number[]
  code: string
  message: string
}

interface Built {
  byObject: Ordered
  bySubject: Ordered
}

export class JudgementIndex implements JudgedState {
  readonly wanted = new Map<string, Scope>()
  private readonly set = new CompactRelationships()
  private built?: Built

  private put(r: Relationship, line: number, kind: number) {
    const governed = isGoverned(r)
    if (!governed && r.relation !== 'organization') return
    let flags = kind | (governed ? GOVERNED : 0)
    if (r.resource.type === 'client' && r.subject.type === 'user' && !r.subject.relation) flags |= BY_SUBJECT
    this.set.push(r, line, flags)
    this.built = undefined
  }

  /** a relationship there before the set */
  addLive(r: Relationship) {
    this.put(r, 0, LIVE)
  }

  /** a relationship the set writes, at its line */
  add(r: Relationship, line: number) {
    this.put(r, line, ADD)
  }

  /** a relationship the set deletes (a reconcile's extras) */
  delete(r: Relationship, line: number) {
    this.put(r, line, DELETE)
  }

  private index(): Built {
    return (this.built ??= this.set.build())
  }

  /** the entries of the object named `type:id`, as a range of byObject.order */
  private objectRange(type: string, id: string): [number, number] {
    const k = this.set.strings.find(`${type}:${id}`)
    const { start } = this.index().byObject
    return k === undefined ? [0, 0] : [start[k]!, start[k + 1]!]
  }

  /**
   * The relationships of the scope that are there `after` the set (live or written, and not
   * deleted) or that `had` been there (live). Entries of one relationship are next to each other
   * in byObject (by subject, then relation); in bySubject they are gathered by key.
   */
  private read(scope: Scope, when: 'after' | 'had'): Relationship[] {
    const f = scope.filter
    const { strings, subj, rel, flags } = this.set
    const { byObject, bySubject } = this.index()
    const out: Relationship[] = []
    const take = (i: number, seen: number) => {
      const present = when === 'had' ? seen & LIVE : seen & (LIVE | ADD) && !(seen & DELETE)
      if (!present) return
      const r = this.set.relationship(i)
      if (matches(f, r)) out.push(r)
    }
    if (f.resourceId) {
      let [a, b] = this.objectRange(f.resourceType, f.resourceId)
      const order = byObject.order
      if (f.subject) {
        const s = strings.find(formatSubject(f.subject))
        if (s === undefined) return out
        a = lowerBound(order, a, b, (i) => subj[i]! < s)
        b = lowerBound(order, a, b, (i) => subj[i]! <= s)
      }
      const relation = f.relation === undefined ? undefined : strings.find(f.relation)
      if (f.relation !== undefined && relation === undefined) return out
      for (let j = a; j < b;) {
        const first = order[j]!
        let seen = 0
        for (; j < b && subj[order[j]!] === subj[first] && rel[order[j]!] === rel[first]; j++) seen |= flags[order[j]!]!
        if (relation === undefined || rel[first] === relation) take(first, seen)
      }
      return out
    }
    if (f.resourceType === 'client' && f.subject?.type === 'user' && !f.subject.relation) {
      const s = strings.find(formatSubject(f.subject))
      if (s === undefined) return out
      const found = new Map<string, [number, number]>()
      for (let j = bySubject.start[s]!; j < bySubject.start[s + 1]!; j++) {
        const i = bySubject.order[j]!
        const key = `${this.set.obj[i]} ${rel[i]}`
        const had = found.get(key)
        found.set(key, [had ? had[0] : i, (had ? had[1] : 0) | flags[i]!])
      }
      for (const [i, seen] of found.values()) take(i, seen)
      return out
    }
    throw new Error(`the import judgement cannot read the scope ${scope.key}`)
  }

  after(scope: Scope) {
    return this.read(scope, 'after')
  }

  had(scope: Scope) {
    return this.read(scope, 'had')
  }

  isNew(r: Relationship) {
    return (
      this.read(
        { key: 'new', filter: { resourceType: r.resource.type, resourceId: r.resource.id, relation: r.relation, subject: r.subject }, pinned: [] },
        'had',
      ).length === 0
    )
  }

  /**
   * Judges every object the set writes; the first `max` violations by line. It gives the event
   * loop a turn every few thousand objects: a million relationships take seconds to judge, and
   * reads go on meanwhile.
   */
  async judgeAll(max = 20): Promise<Violation[]> {
    const found: Violation[] = []
    const { start, order } = this.index().byObject
    const { flags, line } = this.set
    for (let k = 0; k + 1 < start.length; k++) {
      if (k % 4096 === 4095) await new Promise((resolve) => setImmediate(resolve))
      const group: { line: number; update: RelationshipUpdate }[] = []
      for (const kind of [ADD, DELETE]) {
        const operation = kind === ADD ? 'touch' : 'delete'
        const mine: number[] = []
        for (let j = start[k]!; j < start[k + 1]!; j++) if ((flags[order[j]!]! & (kind | GOVERNED)) === (kind | GOVERNED)) mine.push(order[j]!)
        mine.sort((a, b) => line[a]! - line[b]!)
        for (const i of mine) group.push({ line: line[i]!, update: { operation, relationship: this.set.relationship(i) } })
      }
      if (group.length === 0) continue
      const refusal = this.refusal(group.map((g) => g.update))
      if (!refusal) continue
      // which lines: those that are refused on their own (on the state the rest of the set leaves)
      const alone = group.filter((g) => this.refusal([g.update]))
      const lines = (alone.length ? alone : group).map((g) => g.line).sort((a, b) => a - b)
      found.push({ line: lines.at(-1)!, lines, code: refusal.code, message: refusal.message })
    }
    return found.sort((a, b) => a.line - b.line).slice(0, max)
  }

  private refusal(updates: RelationshipUpdate[]): GatewayError | undefined {
    try {
      judge(this, updates)
      return undefined
    } catch (err) {
      if (err instanceof GatewayError && err.statusCode === 409) return err
      throw err
    }
  }
}

/** the first position in order[a..b) where `before` is false (it holds for a prefix) */
function lowerBound(order: Int32Array, a: number, b: number, before: (i: number) => boolean): number {
  while (a < b) {
    const mid = (a + b) >>> 1
    if (before(order[mid]!)) a = mid + 1
    else b = mid
  }
  return a
}
