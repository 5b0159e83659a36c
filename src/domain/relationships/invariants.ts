/**
 * The invariants (src/domain/invariants/rules.ts) on direct writes (`/v1/relationships`): a write that touches the
 * relations an invariant governs is judged on the state it would leave (I1 one primary, I2 one
 * owner with no other role, I3 the owner is not deleted, I4 one role, I5 pairable coaches, I6
 * co-authors, I7 no cross-organization group), and refused with the invariant's 409. What the
 * judgement read is returned as preconditions for the same write, so a concurrent change makes
 * the write fail rather than land on a state nobody judged (no read-then-write race).
 */
import type { EnginePort, Precondition, Relationship, RelationshipFilter, RelationshipUpdate } from '../../engine/port.js'
import { conflict } from '../wire/errors.js'
import { PAIRING_RELATIONS } from '../events/contract/catalogue.js'
import {
  coAuthorVia,
  crossesOrganizations,
  EXCLUSIVE_ROLES,
  isPairing,
  pairableVia,
  primariesOf,
  primaryCountHolds,
  stopsBeingPairable,
} from '../invariants/rules.js'
import {
  crossOrganization,
  notCoAuthorEligible,
  notPairable,
  oneRole,
  ownerTransferOnly,
  ownerUntouchable,
  primaryCoachOfClients,
} from '../events/translate/refusals.js'
import { WritePlan, readAll, user } from '../events/translate/write-plan.js'
import { formatRelationship } from '../wire/refs.js'

const CLIENT_GOVERNED = ['organization', ...PAIRING_RELATIONS] as readonly string[]
const ORG_ROLES = EXCLUSIVE_ROLES.organization

/** The relations a direct write can break an invariant through, by resource type. */
export const GOVERNED: Record<string, readonly string[]> = {
  organization: ORG_ROLES,
  client: CLIENT_GOVERNED,
  program: [...EXCLUSIVE_ROLES.program, 'assigned_group'],
  course: ['co_author'],
}

/** A set of relationships the judgement reads, and how to pin what it found. */
export interface Scope {
  key: string
  filter: RelationshipFilter
  /** the relations whose content is pinned: each found one must still exist, each relation seen empty must stay empty */
  pinned: readonly string[]
}

const key = (r: Relationship) => formatRelationship({ ...r, caveat: undefined })

export function matches(f: RelationshipFilter, r: Relationship): boolean {
  if (r.resource.type !== f.resourceType || (f.resourceId && r.resource.id !== f.resourceId)) return false
  if (f.relation && r.relation !== f.relation) return false
  const s = f.subject
  return !s || (r.subject.type === s.type && r.subject.id === s.id && (s.relation ?? undefined) === (r.subject.relation ?? undefined))
}

const clientScope = (id: string): Scope => ({ key: `client:${id}`, filter: { resourceType: 'client', resourceId: id }, pinned: CLIENT_GOVERNED })
const ownerScope = (id: string): Scope => ({
  key: `owner:${id}`,
  filter: { resourceType: 'organization', resourceId: id, relation: 'owner' },
  pinned: ['owner'],
})
const linkScope = (type: string, id: string): Scope => ({
  key: `link:${type}:${id}`,
  filter: { resourceType: type, resourceId: id, relation: 'organization' },
  pinned: ['organization'],
})
const personScope = (type: string, id: string, userId: string, roles: readonly string[]): Scope => ({
  key: `person:${type}:${id}:${userId}`,
  filter: { resourceType: type, resourceId: id, subject: user(userId) },
  pinned: roles,
})
const pairingsScope = (userId: string): Scope => ({
  key: `pairings:${userId}`,
  filter: { resourceType: 'client', subject: user(userId) },
  pinned: PAIRING_RELATIONS,
})

/**
 * What the judgement asks of a state: the relationships of a scope after the write (undefined,
 * and the scope noted in `wanted`, until it is known), before it, and whether one is new.
 * Direct writes read the engine scope by scope (View); an import knows the whole set
 * (import-judgement.ts).
 */
export interface JudgedState {
  readonly wanted: Map<string, Scope>
  after(scope: Scope): Relationship[] | undefined
  had(scope: Scope): Relationship[]
  isNew(r: Relationship): boolean
}

/** The state before (what was read) and after (with the write's updates) over the scopes read so far. */
class View implements JudgedState {
  private readonly before = new Map<string, Relationship>()
  private readonly loaded = new Map<string, Scope>()
  readonly wanted = new Map<string, Scope>()
  private readonly deleted = new Set<string>()
  private readonly touched: Relationship[] = []

  constructor(updates: RelationshipUpdate[]) {
    for (const u of updates) {
      if (u.operation === 'delete') this.deleted.add(key(u.relationship))
      else this.touched.push(u.relationship)
    }
  }

  /** the relationships matching the scope after the write; undefined (and asked for) until read */
  after(scope: Scope): Relationship[] | undefined {
    if (!this.loaded.has(scope.key)) return void this.wanted.set(scope.key, scope)
    const out = new Map<string, Relationship>()
    for (const [k, r] of this.before) if (matches(scope.filter, r) && !this.deleted.has(k)) out.set(k, r)
    for (const r of this.touched) if (matches(scope.filter, r)) out.set(key(r), r)
    return [...out.values()]
  }

  had(scope: Scope): Relationship[] {
    return [...this.before.values()].filter((r) => matches(scope.filter, r))
  }

  isNew(r: Relationship): boolean {
    return !this.before.has(key(r))
  }

  async load(engine: EnginePort, plan: WritePlan): Promise<void> {
    const scopes = [...this.wanted.values()]
    this.wanted.clear()
    const found = await Promise.all(scopes.map((s) => readAll(engine, s.filter)))
    for (const [i, scope] of scopes.entries()) {
      this.loaded.set(scope.key, scope)
      const rels = found[i]!
      for (const r of rels) this.before.set(key(r), r)
      const governed = rels.filter((r) => scope.pinned.includes(r.relation))
      // Nothing there: one pin says so (keeps a seed of fresh objects to one precondition per scope).
      if (rels.length === 0) plan.forbid(scope.filter)
      else {
        for (const r of governed) plan.require(r)
        const seen = new Set(governed.map((r) => r.relation))
        for (const relation of scope.pinned) if (!seen.has(relation)) plan.forbid({ ...scope.filter, relation })
      }
    }
  }
}

const relationsOf = (rels: Relationship[] | undefined, among: readonly string[]) => (rels ?? []).map((r) => r.relation).filter((r) => among.includes(r))

/** One pass over the invariants; throws on a violation, asks the view for what it has not read yet. */
export function judge(view: JudgedState, updates: RelationshipUpdate[]): void {
  const orgs = new Set<string>()
  const clients = new Set<string>()
  const people = new Map<string, [string, string, string]>()
  const coAuthors: Relationship[] = []
  const assignments: Relationship[] = []
  for (const { operation, relationship: r } of updates) {
    const { type, id } = r.resource
    const isUser = r.subject.type === 'user' && !r.subject.relation
    if (type === 'client' && CLIENT_GOVERNED.includes(r.relation)) clients.add(id)
    if (type === 'organization' && ORG_ROLES.includes(r.relation) && isUser) {
      people.set(`organization:${id}:${r.subject.id}`, ['organization', id, r.subject.id])
      if (r.relation === 'owner') orgs.add(id)
    }
    if (type === 'program' && EXCLUSIVE_ROLES.program.includes(r.relation) && isUser) people.set(`program:${id}:${r.subject.id}`, ['program', id, r.subject.id])
    if (operation === 'delete') continue
    if (type === 'course' && r.relation === 'co_author' && isUser) coAuthors.push(r)
    if (type === 'program' && r.relation === 'assigned_group') assignments.push(r)
  }

  for (const c of clients) {
    const after = view.after(clientScope(c))
    if (!after) continue
    const primaries = primariesOf(after).map((r) => r.subject.id)
    const org = after.find((r) => r.relation === 'organization')?.subject.id
    if (!primaryCountHolds(primaries.length, Boolean(org))) {
      throw conflict(
        'GW_PRIMARY_REQUIRED',
        `client:${c} would have ${primaries.length} primary coaches; a client has exactly one (I1). Replace the primary in one write: delete the old one and touch the new one together.`,
        {
          client: `client:${c}`,
          primaries: primaries.map((p) => `user:${p}`),
        },
      )
    }
    for (const r of after) {
      if (!isPairing(r.relation) || !view.isNew(r)) continue
      if (!org)
        throw conflict(
          'GW_NOT_PAIRABLE',
          `client:${c} belongs to no organization, so no one can be paired with it (I5); write its client:${c}#organization first or in the same write.`,
          { client: `client:${c}` },
        )
      const held = view.after(personScope('organization', org, r.subject.id, ORG_ROLES))
      if (view.wanted.size === 0 && !pairableVia(held ?? [])) throw notPairable(org, r.subject.id)
    }
  }

  for (const o of orgs) {
    const scope = ownerScope(o)
    const after = view.after(scope)
    if (!after) continue
    if (after.length > 1)
      throw ownerTransferOnly(o, `organization:${o} would have ${after.length} owners, ${after.map((r) => `user:${r.subject.id}`).join(', ')}`)
    const old = view.had(scope)[0]
    if (after.length === 0 && old) throw ownerUntouchable(o, old.subject.id, 'delete the ownership of')
  }

  for (const [type, id, userId] of people.values()) {
    const roleSet = EXCLUSIVE_ROLES[type as keyof typeof EXCLUSIVE_ROLES]
    const scope = personScope(type, id, userId, roleSet)
    const after = view.after(scope)
    if (!after) continue
    const roles = relationsOf(after, roleSet)
    if (roles.length > 1 && roles.includes('owner'))
      throw ownerTransferOnly(id, `user:${userId} is the owner of organization:${id} and cannot also hold ${roles.filter((r) => r !== 'owner').join(', ')}`)
    if (roles.length > 1) throw oneRole(`${type}:${id}`, userId, roles)
    // I5: someone who stops being pairable in this organization keeps no pairing with its clients.
    if (type !== 'organization' || !stopsBeingPairable(relationsOf(view.had(scope), roleSet), roles)) continue
    const pairings = view.after(pairingsScope(userId))?.filter((r) => isPairing(r.relation))
    const inOrg = (pairings ?? []).filter((r) => view.after(linkScope('client', r.resource.id))?.[0]?.subject.id === id)
    if (view.wanted.size > 0) continue
    const primaryOf = inOrg.filter((r) => r.relation === 'primary').map((r) => r.resource.id)
    if (primaryOf.length > 0) throw primaryCoachOfClients(id, userId, primaryOf, 'take the coach role from')
    if (inOrg.length > 0) {
      throw conflict(
        'GW_NOT_PAIRABLE',
        `user:${userId} would stop being a coach of organization:${id} while paired with ${inOrg.map((r) => `client:${r.resource.id}`).join(', ')} (I5); delete those pairings in the same write.`,
        {
          organization: `organization:${id}`,
          user: `user:${userId}`,
          clients: inOrg.map((r) => `client:${r.resource.id}`),
        },
      )
    }
  }

  for (const r of coAuthors) {
    const org = view.after(linkScope('course', r.resource.id))?.[0]?.subject.id
    if (!org) {
      if (view.wanted.size === 0) throw notCoAuthorEligible(r.resource.id, "(none: write the course's organization first)", r.subject.id)
      continue
    }
    const roles = view.after(personScope('organization', org, r.subject.id, ORG_ROLES))
    if (roles && !coAuthorVia(roles)) throw notCoAuthorEligible(r.resource.id, org, r.subject.id)
  }

  for (const r of assignments) {
    const p = view.after(linkScope('program', r.resource.id))?.[0]?.subject.id
    const g = view.after(linkScope('group', r.subject.id))?.[0]?.subject.id
    if (crossesOrganizations(p, g)) throw crossOrganization(`program:${r.resource.id}`, `group:${r.subject.id}`)
  }
}

/** True when the update can bear on an invariant, so the write needs judging. */
export const isGoverned = (r: Relationship) => GOVERNED[r.resource.type]?.includes(r.relation) ?? false

/**
 * Judges the write on the state it would leave; throws the invariant's 409, or returns the
 * preconditions pinning what was read (empty when no update bears on an invariant).
 */
export async function guardWrite(engine: EnginePort, updates: RelationshipUpdate[]): Promise<Precondition[]> {
  if (!updates.some((u) => isGoverned(u.relationship))) return []
  const view = new View(updates)
  const plan = new WritePlan()
  for (let round = 0; round < 5; round++) {
    judge(view, updates)
    if (view.wanted.size === 0) return plan.preconditions
    await view.load(engine, plan)
  }
  judge(view, updates)
  return plan.preconditions
}
