/**
 * The invariants of domain.md (I1-I8) as a check over the state of a few named objects, for
 * the race suites: after two concurrent events settle, whatever order they landed in, these
 * must hold. Reads are fully consistent and limited to the objects a round created, so a
 * suite of hundreds of rounds does not reread the whole store each time.
 */
import type { Relationship } from '../../src/engine/port.js'
import { PAIRING_RELATIONS } from '../../src/domain/events/contract/catalogue.js'
import { formatRelationship } from '../../src/domain/wire/refs.js'
import type { TestApp } from './app.js'

/** the objects one round touches, by type */
export interface Universe {
  organizations: string[]
  clients?: string[]
  programs?: string[]
  groups?: string[]
  courses?: string[]
  sections?: string[]
}

const ROLES = ['owner', 'admin', 'coach', 'author', 'member']
const PROGRAM_ROLES = ['program_admin', 'facilitator', 'participant', 'sponsor', 'tutor']

export async function relationshipsOf(app: TestApp, resourceType: string, resourceId: string): Promise<Relationship[]> {
  const page = await app.engine.readRelationships({ resourceType, resourceId }, {}, { mode: 'fully_consistent' })
  return page.relationships
}

type State = Map<string, Relationship[]>

async function read(app: TestApp, u: Universe): Promise<State> {
  const keys: [string, string][] = [
    ...u.organizations.map((id): [string, string] => ['organization', id]),
    ...(u.clients ?? []).map((id): [string, string] => ['client', id]),
    ...(u.programs ?? []).map((id): [string, string] => ['program', id]),
    ...(u.groups ?? []).map((id): [string, string] => ['group', id]),
    ...(u.courses ?? []).map((id): [string, string] => ['course', id]),
    ...(u.sections ?? []).map((id): [string, string] => ['section', id]),
  ]
  const found = await Promise.all(keys.map(([type, id]) => relationshipsOf(app, type, id)))
  return new Map(keys.map(([type, id], i) => [`${type}:${id}`, found[i]!]))
}

const usersIn = (rels: Relationship[], relation: string) => rels.filter((r) => r.relation === relation && r.subject.type === 'user').map((r) => r.subject.id)

/** the organization an object belongs to, or undefined when it has no existence tuple */
const orgOf = (rels: Relationship[]) => rels.find((r) => r.relation === 'organization')?.subject.id

/** Every broken invariant among the universe's objects, as readable lines (empty: all hold). */
export async function invariantViolations(app: TestApp, u: Universe, options: { coAuthors?: boolean } = {}): Promise<string[]> {
  const state = await read(app, u)
  const out: string[] = []
  const org = (id: string) => state.get(`organization:${id}`) ?? []
  const rolesOf = (orgId: string, userId: string) =>
    org(orgId)
      .filter((r) => r.subject.id === userId && ROLES.includes(r.relation))
      .map((r) => r.relation)

  for (const id of u.organizations) {
    const rels = org(id)
    if (rels.length === 0) continue
    const owners = usersIn(rels, 'owner')
    if (owners.length !== 1) out.push(`I2 organization:${id} has ${owners.length} owners`)
    for (const person of new Set(rels.filter((r) => ROLES.includes(r.relation)).map((r) => r.subject.id))) {
      const roles = rolesOf(id, person)
      if (roles.length > 1) out.push(`I2/I4 user:${person} holds ${roles.join('+')} in organization:${id}`)
    }
    for (const r of rels.filter((r) => r.relation === 'program')) {
      if (!orgOf(state.get(`program:${r.subject.id}`) ?? [])) out.push(`I7 ${formatRelationship(r)} points at a deleted program`)
    }
  }
  for (const id of u.clients ?? []) {
    const rels = state.get(`client:${id}`)!
    const orgId = orgOf(rels)
    if (!orgId) {
      if (rels.length > 0) out.push(`I7 client:${id} was deleted but keeps ${rels.map(formatRelationship).join(', ')}`)
      continue
    }
    const primaries = usersIn(rels, 'primary')
    if (primaries.length !== 1) out.push(`I1 client:${id} has ${primaries.length} primaries (${primaries.join(', ')})`)
    for (const r of rels.filter((r) => (PAIRING_RELATIONS as readonly string[]).includes(r.relation))) {
      const roles = rolesOf(orgId, r.subject.id)
      if (!roles.includes('coach') && !roles.includes('owner')) {
        out.push(`I5/I8 ${formatRelationship(r)} but user:${r.subject.id} holds [${roles.join(', ')}] in organization:${orgId}`)
      }
    }
  }
  for (const [type, ids] of [
    ['program', u.programs],
    ['group', u.groups],
    ['course', u.courses],
  ] as const) {
    for (const id of ids ?? []) {
      const rels = state.get(`${type}:${id}`)!
      if (!orgOf(rels) && rels.length > 0) out.push(`I7 ${type}:${id} was deleted but keeps ${rels.map(formatRelationship).join(', ')}`)
    }
  }
  for (const id of u.programs ?? []) {
    const rels = state.get(`program:${id}`)!
    for (const person of new Set(rels.filter((r) => PROGRAM_ROLES.includes(r.relation)).map((r) => r.subject.id))) {
      const roles = rels.filter((r) => r.subject.id === person && PROGRAM_ROLES.includes(r.relation))
      if (roles.length > 1) out.push(`I4 user:${person} holds ${roles.map((r) => r.relation).join('+')} in program:${id}`)
    }
    for (const r of rels.filter((r) => r.relation === 'assigned_group')) {
      const groupOrg = orgOf(state.get(`group:${r.subject.id}`) ?? [])
      if (groupOrg !== orgOf(rels)) out.push(`I7 ${formatRelationship(r)} but the group belongs to ${groupOrg ?? 'no organization (deleted)'}`)
    }
  }
  for (const id of u.sections ?? []) {
    for (const r of state.get(`section:${id}`)!) {
      if (!orgOf(state.get(`program:${r.subject.id}`) ?? [])) out.push(`I7 ${formatRelationship(r)} points at a deleted program`)
    }
  }
  if (options.coAuthors) {
    for (const id of u.courses ?? []) {
      const rels = state.get(`course:${id}`)!
      const orgId = orgOf(rels)
      for (const person of orgId ? usersIn(rels, 'co_author') : []) {
        const roles = rolesOf(orgId!, person)
        if (!roles.some((r) => ['owner', 'admin', 'author'].includes(r))) out.push(`I6 user:${person} co-authors course:${id} holding [${roles.join(', ')}]`)
      }
    }
  }
  return out
}

/**
 * I8: what a person still holds in an organization after being deactivated or removed: any
 * organization relation, and any relation on the universe's clients, groups, programs and
 * courses of that organization (course ownership excepted: it is not access deactivation takes).
 */
export async function heldAfterRemoval(app: TestApp, orgId: string, userId: string, u: Universe): Promise<string[]> {
  const state = await read(app, u)
  const out: Relationship[] = (state.get(`organization:${orgId}`) ?? []).filter((r) => r.subject.id === userId)
  for (const [key, rels] of state) {
    if (key.startsWith('organization:') || key.startsWith('section:') || orgOf(rels) !== orgId) continue
    out.push(...rels.filter((r) => r.subject.type === 'user' && r.subject.id === userId && !(key.startsWith('course:') && r.relation === 'owner')))
  }
  return out.map((r) => `I8 user:${userId} still holds ${formatRelationship(r)}`)
}
