/**
 * Object references on the wire, as SpiceDB and zed write them:
 *   object        type:id
 *   subject       type:id  or  type:id#relation
 *   relationship  resource#relation@subject  with an optional  [caveat]  or  [caveat:{json}]
 * Validated against SpiceDB's own grammar before any engine call, so a bad reference is a 400
 * that names the field, never an engine round trip.
 */
import type { CaveatRef, ObjectRef, Relationship, SubjectRef } from '../../engine/port.js'
import { InvalidReferenceError } from './errors.js'

// From SpiceDB's validation rules (proto/authzed/api/v1/core.proto). SpiceDB allows any number of
// `prefix/` segments within 128 bytes; one at most keeps every match within those 128 bytes
// (63 + 1 + 64) without a length check a JSON-schema pattern cannot express.
const TYPE = '(?:[a-z][a-z0-9_]{1,61}[a-z0-9]/)?[a-z][a-z0-9_]{1,62}[a-z0-9]'
const ID = '[a-zA-Z0-9/_|\\-=+]{1,1024}'
const RELATION = '[a-z][a-z0-9_]{1,62}[a-z0-9]'

const OBJECT_RE = new RegExp(`^(${TYPE}):(${ID})$`)
const SUBJECT_RE = new RegExp(`^(${TYPE}):(${ID}|\\*)(?:#(${RELATION}|\\.\\.\\.))?$`)
const RELATIONSHIP_RE = new RegExp(`^([^#@\\[]+)#(${RELATION})@([^\\[]+?)(?:\\[(${RELATION})(?::(\\{.*\\}))?\\])?$`)

/** Patterns for OpenAPI, so docs and validation say the same thing. */
export const PATTERNS = {
  type: `^${TYPE}$`,
  relation: `^${RELATION}$`,
  object: `^${TYPE}:${ID}$`,
  subject: `^${TYPE}:(?:${ID}|\\*)(?:#(?:${RELATION}|\\.\\.\\.))?$`,
}

export function parseObject(text: string, field: string): ObjectRef {
  const m = OBJECT_RE.exec(text)
  if (!m) throw new InvalidReferenceError(field, text, 'an object reference type:id')
  return { type: m[1]!, id: m[2]! }
}

export function parseSubject(text: string, field: string): SubjectRef {
  const m = SUBJECT_RE.exec(text)
  if (!m) throw new InvalidReferenceError(field, text, 'a subject reference type:id or type:id#relation')
  const s: SubjectRef = { type: m[1]!, id: m[2]! }
  if (m[3] && m[3] !== '...') s.relation = m[3]
  return s
}

export function parseRelationship(text: string, field: string): Relationship {
  const m = RELATIONSHIP_RE.exec(text)
  if (!m) throw new InvalidReferenceError(field, text, 'a relationship resource#relation@subject')
  const rel: Relationship = {
    resource: parseObject(m[1]!, field),
    relation: m[2]!,
    subject: parseSubject(m[3]!, field),
  }
  if (m[4]) {
    const caveat: CaveatRef = { name: m[4] }
    if (m[5]) {
      try {
        const ctx: unknown = JSON.parse(m[5])
        if (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx)) throw new Error('not an object')
        caveat.context = ctx as Record<string, unknown>
      } catch {
        throw new InvalidReferenceError(field, text, 'a caveat context that is a JSON object')
      }
    }
    rel.caveat = caveat
  }
  return rel
}

export function formatObject(o: ObjectRef): string {
  return `${o.type}:${o.id}`
}

export function formatSubject(s: SubjectRef): string {
  return s.relation ? `${s.type}:${s.id}#${s.relation}` : `${s.type}:${s.id}`
}

export function formatRelationship(r: Relationship): string {
  const base = `${formatObject(r.resource)}#${r.relation}@${formatSubject(r.subject)}`
  if (!r.caveat) return base
  return r.caveat.context ? `${base}[${r.caveat.name}:${JSON.stringify(r.caveat.context)}]` : `${base}[${r.caveat.name}]`
}
