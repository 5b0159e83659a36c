/**
 * The invariants' rules, stated once (src/domain/invariants/rules.ts), which the event
 * translators and the direct-write judge both apply: each predicate on the cases that decide it.
 */
import t from 'tap'
import {
  coAuthorVia,
  crossesOrganizations,
  EXCLUSIVE_ROLES,
  INVARIANT_CODES,
  isPairing,
  memberRole,
  pairableVia,
  primariesOf,
  primaryCountHolds,
  stopsBeingPairable,
} from '../../../../src/domain/invariants/rules.js'
import { ORG_ROLE_RELATIONS, PROGRAM_ROLES } from '../../../../src/domain/events/contract/catalogue.js'
import { parseRelationship } from '../../../../src/domain/wire/refs.js'

const rels = (...texts: string[]) => texts.map((text) => parseRelationship(text, 'r'))
const relationOf = (r: { relation: string } | undefined) => r?.relation

t.test('I1: exactly one primary once the client is in an organization, at most one before', async (t) => {
  const table: [number, boolean, boolean][] = [
    [0, false, true],
    [1, false, true],
    [2, false, false],
    [0, true, false],
    [1, true, true],
    [2, true, false],
  ]
  for (const [primaries, inOrg, holds] of table) t.equal(primaryCountHolds(primaries, inOrg), holds, `${primaries} primaries, in an organization: ${inOrg}`)
  const client = rels('client:c1#primary@user:rob', 'client:c1#coaching@user:ann', 'client:c1#organization@organization:acme')
  t.same(
    primariesOf(client).map((r) => r.subject.id),
    ['rob'],
  )
})

t.test('pairings: primary, coaching and view only; nothing else', async (t) => {
  for (const r of ['primary', 'coaching', 'view_only']) t.ok(isPairing(r), r)
  for (const r of ['organization', 'account', 'viewer', 'none']) t.notOk(isPairing(r), r)
})

t.test('I4: one role among the organization roles (owner included) and among the program roles', async (t) => {
  t.same(EXCLUSIVE_ROLES.organization, ORG_ROLE_RELATIONS)
  t.ok(EXCLUSIVE_ROLES.organization.includes('owner'), 'the owner holds no other role (I2)')
  t.same(EXCLUSIVE_ROLES.program, PROGRAM_ROLES)
  t.equal(relationOf(memberRole(rels('organization:acme#manage_pairings@user:ann', 'organization:acme#admin@user:ann'))), 'admin', 'a privilege is not a role')
  t.equal(memberRole(rels('organization:acme#manage_pairings@user:ann')), undefined, 'privileges alone: not a member')
})

t.test('I5: the coach role makes a person pairable, else ownership; nothing else does', async (t) => {
  t.equal(relationOf(pairableVia(rels('organization:acme#coach@user:ann'))), 'coach')
  t.equal(relationOf(pairableVia(rels('organization:acme#owner@user:ann'))), 'owner')
  t.equal(relationOf(pairableVia(rels('organization:acme#owner@user:ann', 'organization:acme#coach@user:ann'))), 'coach', 'the coach role preferred')
  for (const role of ['admin', 'author', 'member']) t.equal(pairableVia(rels(`organization:acme#${role}@user:ann`)), undefined, role)
  t.equal(pairableVia([]), undefined)
})

t.test('I5: stopping being pairable is going from a pairable role to none', async (t) => {
  t.ok(stopsBeingPairable(['coach'], ['admin']))
  t.ok(stopsBeingPairable(['owner'], []))
  t.ok(stopsBeingPairable(new Set(['coach', 'manage_pairings']), ['member']))
  t.notOk(stopsBeingPairable(['coach'], ['coach']))
  t.notOk(stopsBeingPairable(['coach'], ['owner']), 'coach to owner stays pairable')
  t.notOk(stopsBeingPairable(['admin'], ['member']), 'never pairable')
  t.notOk(stopsBeingPairable([], ['coach']))
})

t.test('I6: authors, admins and the owner may co-author; coaches and members may not', async (t) => {
  for (const role of ['owner', 'admin', 'author']) t.equal(relationOf(coAuthorVia(rels(`organization:acme#${role}@user:ann`))), role, role)
  for (const role of ['coach', 'member']) t.equal(coAuthorVia(rels(`organization:acme#${role}@user:ann`)), undefined, role)
})

t.test('I7: two known organizations that differ cross; an unknown one does not decide', async (t) => {
  t.ok(crossesOrganizations('acme', 'beta'))
  t.notOk(crossesOrganizations('acme', 'acme'))
  t.notOk(crossesOrganizations(undefined, 'beta'))
  t.notOk(crossesOrganizations('acme', undefined))
})

t.test('every invariant I1-I8 is stated by a refusal code', async (t) => {
  const stated = Object.values(INVARIANT_CODES).join(' ')
  for (let i = 1; i <= 8; i++) t.match(stated, new RegExp(`I${i}\\b`), `I${i}`)
  for (const code of Object.keys(INVARIANT_CODES)) t.match(code, /^GW_[A-Z_]+$/)
})
