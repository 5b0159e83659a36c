/**
 * The invariants I1-I8, stated once: what each promises, and the rule data and predicates
 * that keep it. Two places enforce them and both ask here: the event translators
 * (events/translate/), on the state they read for one event, and the judge of direct writes
 * and imports (relationships/invariants.ts, `judge()`), on the state a write would leave. A
 * rule changed here changes for both doors at once.
 *
 * The vocabularies themselves (which roles exist) are the event contract's
 * (events/contract/catalogue.ts); this module says which of them an invariant is about.
 */
import type { Relationship } from '../../engine/port.js'
import { CO_AUTHOR_ROLES, ORG_ROLE_RELATIONS, PAIRABLE_ROLES, PAIRING_RELATIONS, PROGRAM_ROLES } from '../events/contract/catalogue.js'

/** Each invariant's refusal code and what it promises (the 409 a write breaking it answers). */
export const INVARIANT_CODES = {
  GW_PRIMARY_REQUIRED: 'I1: a client always has exactly one primary coach',
  GW_PRIMARY_COACH_OF_CLIENTS: 'I1/I8: a primary coach cannot stop coaching until their clients have another primary',
  GW_OWNER_TRANSFER_ONLY: 'I2: ownership moves only by transfer; the owner has no other role',
  GW_OWNER_UNTOUCHABLE: 'I3: no one but the owner changes the owner; no one removes or deactivates the owner',
  GW_NOT_A_MEMBER: 'I4: roles are changed, privileges and permissions set, only for members of the organization',
  GW_ONE_ROLE: 'I4: a person holds one organization role, and one role per program; a new role replaces the old in one write',
  GW_NOT_PAIRABLE: 'I5: only coaches (or the owner) of the organization can be paired with clients',
  GW_NOT_CO_AUTHOR_ELIGIBLE: "I6: only authors, admins or the owner of the course's organization can co-author",
  GW_CROSS_ORGANIZATION: 'I7: objects of different organizations cannot be linked',
  GW_UNKNOWN_OBJECT: 'the event refers to an object no earlier event created',
  GW_ALREADY_EXISTS: 'the object already exists with different facts',
} as const

const among = (relations: readonly string[]) => {
  const set = new Set(relations)
  return (relation: string) => set.has(relation)
}

/** I1: the client relation naming its one primary coach */
export const PRIMARY = 'primary'

/** the client relations that pair a coach with a client (I1, I5, I8) */
export const isPairing = among(PAIRING_RELATIONS)

/** I1: the coaches a client's relationships name primary */
export const primariesOf = (clientRelationships: Relationship[]) => clientRelationships.filter((r) => r.relation === PRIMARY)

/**
 * I1: a client belonging to an organization has exactly one primary coach; one not yet linked
 * to an organization has at most one.
 */
export const primaryCountHolds = (primaries: number, inOrganization: boolean) => primaries <= 1 && (!inOrganization || primaries === 1)

/** I4: the roles of which a person holds at most one, by the type they are held on */
export const EXCLUSIVE_ROLES = {
  organization: ORG_ROLE_RELATIONS as readonly string[],
  program: PROGRAM_ROLES as readonly string[],
} as const

/** I4: the relationship that makes the person a member of the organization (their role), if any */
export const memberRole = (held: Relationship[]) => held.find((r) => isOrgRole(r.relation))
const isOrgRole = among(ORG_ROLE_RELATIONS)

const isPairableRole = among(PAIRABLE_ROLES)

/**
 * I5: among a person's organization relationships, the one that makes them pairable with its
 * clients (the coach role, else ownership: PAIRABLE_ROLES is in order of preference), if any.
 */
export const pairableVia = (held: Relationship[]): Relationship | undefined =>
  PAIRABLE_ROLES.map((role) => held.find((r) => r.relation === role)).find((r) => r !== undefined)

/** I5: whether organization relations `before` made the person pairable and `after` no longer do */
export const stopsBeingPairable = (before: Iterable<string>, after: Iterable<string>) => [...before].some(isPairableRole) && ![...after].some(isPairableRole)

/** I6: among a person's organization relationships, the one that lets them co-author its courses, if any */
export const coAuthorVia = (held: Relationship[]): Relationship | undefined => held.find((r) => isCoAuthorRole(r.relation))
const isCoAuthorRole = among(CO_AUTHOR_ROLES)

/** I7: two objects' organizations, where both are known, must be the same */
export const crossesOrganizations = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && a !== b
