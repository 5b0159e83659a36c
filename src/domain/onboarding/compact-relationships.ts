/**
 * Relationships held as numbers, for the whole-set judgement (import-judgement.ts): every
 * distinct object, relation and subject is one string, stored once and named by its number,
 * and a relationship is four 32-bit numbers and a byte of flags in growable typed arrays. A
 * million relationships of a coaching business cost about 60 MB this way, where one string
 * per relationship cost about 300 bytes each.
 *
 * Once every relationship is in, `build()` orders them by object (then subject, relation) and,
 * for the ones flagged BY_SUBJECT, by subject: counting sorts into offset tables, so a scope
 * of the judgement is a range to read, not a search.
 */
import type { Relationship } from '../../engine/port.js'

/** Strings by number: each distinct one stored once. */
export class Interner {
  private readonly ids = new Map<string, number>()
  readonly names: string[] = []

  id(s: string): number {
    let id = this.ids.get(s)
    if (id === undefined) {
      id = this.names.length
      // a copy of its own, so the string does not hold the line it was cut from
      const own = s.length > 12 ? (' ' + s).slice(1) : s
      this.ids.set(own, id)
      this.names.push(own)
    }
    return id
  }

  find(s: string): number | undefined {
    return this.ids.get(s)
  }
}

/** flags of an entry */
export const LIVE = 1
export const ADD = 2
export const DELETE = 4
export const GOVERNED = 8
/** a client relationship to a user, read by subject (the pairings of a coach) */
export const BY_SUBJECT = 16

function grown<T extends Int32Array | Uint8Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size)
  b.set(a)
  return b
}

/** `start[k]..start[k + 1]` of `order` are the entries whose key is k. */
export interface Ordered {
  start: Int32Array
  order: Int32Array
}

/** Counting sort of the entries `keep` selects, by `keyOf` (a number below `keys`). */
function orderBy(n: number, keys: number, keyOf: Int32Array, keep: (i: number) => boolean): Ordered {
  const start = new Int32Array(keys + 1)
  for (let i = 0; i < n; i++) if (keep(i)) start[keyOf[i]! + 1]!++
  for (let k = 0; k < keys; k++) start[k + 1]! += start[k]!
  const at = start.slice(0, keys)
  const order = new Int32Array(start[keys]!)
  for (let i = 0; i < n; i++) if (keep(i)) order[at[keyOf[i]!]!++] = i
  return { start, order }
}

export class CompactRelationships {
  readonly strings = new Interner()
  obj = new Int32Array(1024)
  rel = new Int32Array(1024)
  subj = new Int32Array(1024)
  line = new Int32Array(1024)
  flags = new Uint8Array(1024)
  size = 0

  push(r: Relationship, line: number, flags: number) {
    if (this.size === this.obj.length) {
      const n = this.size * 2
      this.obj = grown(this.obj, n)
      this.rel = grown(this.rel, n)
      this.subj = grown(this.subj, n)
      this.line = grown(this.line, n)
      this.flags = grown(this.flags, n)
    }
    const i = this.size++
    const s = r.subject
    this.obj[i] = this.strings.id(`${r.resource.type}:${r.resource.id}`)
    this.rel[i] = this.strings.id(r.relation)
    this.subj[i] = this.strings.id(s.relation ? `${s.type}:${s.id}#${s.relation}` : `${s.type}:${s.id}`)
    this.line[i] = line
    this.flags[i] = flags
  }

  /** the entry as a relationship (no caveat: the judgement does not read caveats) */
  relationship(i: number): Relationship {
    const names = this.strings.names
    const o = names[this.obj[i]!]!
    const s = names[this.subj[i]!]!
    const colon = o.indexOf(':')
    const sColon = s.indexOf(':')
    const hash = s.indexOf('#', sColon)
    const subject =
      hash < 0
        ? { type: s.slice(0, sColon), id: s.slice(sColon + 1) }
        : { type: s.slice(0, sColon), id: s.slice(sColon + 1, hash), relation: s.slice(hash + 1) }
    return { resource: { type: o.slice(0, colon), id: o.slice(colon + 1) }, relation: names[this.rel[i]!]!, subject }
  }

  /** by object, each object's entries by subject, relation, then line; and the BY_SUBJECT ones by subject */
  build(): { byObject: Ordered; bySubject: Ordered } {
    const n = this.size
    const keys = this.strings.names.length
    const byObject = orderBy(n, keys, this.obj, () => true)
    const { subj, rel, line } = this
    const within = (a: number, b: number) => subj[a]! - subj[b]! || rel[a]! - rel[b]! || line[a]! - line[b]!
    for (let k = 0; k < keys; k++) {
      const a = byObject.start[k]!
      const b = byObject.start[k + 1]!
      if (b - a > 1) byObject.order.subarray(a, b).sort(within)
    }
    const bySubject = orderBy(n, keys, this.subj, (i) => (this.flags[i]! & BY_SUBJECT) !== 0)
    return { byObject, bySubject }
  }
}
