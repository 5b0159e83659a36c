/**
 * The invariants on a whole set at once (an import, a reconcile's difference): the same
 * `judge()` direct writes use, asked object by object over an index of the set and of the live
 * relationships it lands on, so the state it judges is the state the set would leave. Only what
 * an invariant reads is indexed (the governed relations and every `#organization` link), as
 * strings, so a million relationships cost tens of megabytes, not objects.
 */
import type { Relationship, RelationshipUpdate } from '../../engine/port.js'
import { GatewayError } from '../wire/errors.js'
import { isGoverned, judge, matches, type JudgedState, type Scope } from '../relationships/invariants.js'
import { formatRelationship, parseRelationship } from '../wire/refs.js'

export interface Violation {
  /** the line that breaks it (for a second primary: the later one) */
  line: number
  /** every line of the object the judgement found at fault */
  lines: number[]
  code: string
  message: string
}

const keyOf = (r: Relationship) => formatRelationship({ ...r, caveat: undefined })
const objectOf = (r: Relationship) => `${r.resource.type}:${r.resource.id}`
const kept = (r: Relationship) => isGoverned(r) || r.relation === 'organization'
const TAB = '\t'

export class JudgementIndex implements JudgedState {
  readonly wanted = new Map<string, Scope>()
  /** `type:id` -> entries `line<TAB>relationship` (line 0: live only) */
  private readonly byResource = new Map<string, string[]>()
  /** user id -> the client relationships naming them (the pairings scope reads by subject) */
  private readonly bySubject = new Map<string, string[]>()
  private readonly live = new Set<string>()
  /** relationships the set deletes (a reconcile's extras), by object */
  private readonly deletes = new Map<string, { line: number; relationship: Relationship }[]>()
  private readonly deleted = new Set<string>()

  private push(line: number, r: Relationship) {
    const entry = `${line}${TAB}${keyOf(r)}`
    const object = objectOf(r)
    const list = this.byResource.get(object)
    if (list) list.push(entry)
    else this.byResource.set(object, [entry])
    if (r.resource.type === 'client' && r.subject.type === 'user') {
      const subject = this.bySubject.get(r.subject.id)
      if (subject) subject.push(entry)
      else this.bySubject.set(r.subject.id, [entry])
    }
  }

  addLive(r: Relationship) {
    if (!kept(r)) return
    this.live.add(keyOf(r))
    this.push(0, r)
  }

  add(r: Relationship, line: number) {
    if (kept(r)) this.push(line, r)
  }

  delete(r: Relationship, line: number) {
    if (!kept(r)) return
    this.deleted.add(keyOf(r))
    const list = this.deletes.get(objectOf(r)) ?? []
    list.push({ line, relationship: r })
    this.deletes.set(objectOf(r), list)
  }

  private entries(scope: Scope): string[] {
    const f = scope.filter
    if (f.resourceId) return this.byResource.get(`${f.resourceType}:${f.resourceId}`) ?? []
    if (f.resourceType === 'client' && f.subject?.type === 'user' && !f.subject.relation) return this.bySubject.get(f.subject.id) ?? []
    throw new Error(`the import judgement cannot read the scope ${scope.key}`)
  }

  private matching(scope: Scope, keep: (key: string) => boolean): Relationship[] {
    const out = new Map<string, Relationship>()
    for (const entry of this.entries(scope)) {
      const key = entry.slice(entry.indexOf(TAB) + 1)
      if (out.has(key) || !keep(key)) continue
      const r = parseRelationship(key, 'index')
      if (matches(scope.filter, r)) out.set(key, r)
    }
    return [...out.values()]
  }

  after(scope: Scope) {
    return this.matching(scope, (k) => !this.deleted.has(k))
  }

  had(scope: Scope) {
    return this.matching(scope, (k) => this.live.has(k))
  }

  isNew(r: Relationship) {
    return !this.live.has(keyOf(r))
  }

  /** the set's own updates to one object, with their lines */
  private groupOf(object: string, entries: string[]): { line: number; update: RelationshipUpdate }[] {
    const group: { line: number; update: RelationshipUpdate }[] = []
    for (const entry of entries) {
      const at = entry.indexOf(TAB)
      const line = Number(entry.slice(0, at))
      if (line === 0) continue
      const relationship = parseRelationship(entry.slice(at + 1), 'index')
      if (isGoverned(relationship)) group.push({ line, update: { operation: 'touch', relationship } })
    }
    for (const d of this.deletes.get(object) ?? []) if (isGoverned(d.relationship)) group.push({ line: d.line, update: { operation: 'delete', relationship: d.relationship } })
    return group
  }

  /** Judges every object the set writes; the first `max` violations by line. */
  judgeAll(max = 20): Violation[] {
    const found: Violation[] = []
    const deletesOnly = [...this.deletes.keys()].filter((o) => !this.byResource.has(o))
    for (const object of [...this.byResource.keys(), ...deletesOnly]) {
      const group = this.groupOf(object, this.byResource.get(object) ?? [])
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
