/**
 * Which permission governs each event: when an event names an `actor`, the gateway applies it
 * only if the actor holds this permission on this resource, checked fully consistent against
 * the schema in force. An event that takes something from a person who already holds it (a
 * role replaced, privileges dropped from a set, a grant revoked) changes what is lost as well
 * as what is gained, so the actor also needs the permission over what is lost, exactly as a
 * removal followed by an assignment would (domain.md, actor rule). Data, not code:
 * docs/events.md renders this table (a test keeps the two equal).
 */
import { ADMIN_PRIVILEGES, PROGRAM_GRANTS, grantRelation } from '../contract/catalogue.js'
import type { EventType } from '../contract/schemas.js'

/**
 * What an event takes from the person it names (`data.userId`) when they already hold it.
 * `byHeld` maps each relation the person may hold on the event's resource to the permission
 * that governs taking it away; the actor needs the permission of every such relation held.
 * Without `byHeld`, the event's own permission governs the loss too (the same permission
 * governs giving and taking), so there is nothing more to check.
 */
export interface Loss {
  /** in words, for the docs */
  what: string
  byHeld?: Record<string, string>
}

interface OnResource {
  resourceType: string
  idFrom: string
  /** what the event can take from someone who holds it; absent: it takes nothing */
  takes?: Loss[]
}

export type Governing =
  /** the actor must hold `permission` on `resourceType:<data[idFrom]>` */
  | (OnResource & { permission: string })
  /**
   * as above, the permission depending on the program role: the role assigned (`data`), or
   * every role the person currently holds (`current`; none held: a participant's)
   */
  | (OnResource & { permissionByRole: Record<string, string>; roleFrom: 'data' | 'current' })
  /** the actor must be the person named by `data[self]` */
  | { self: string }
  /** no person may cause it: only the platform, sending it without an actor */
  | { platformOnly: true }

/** Program team powers by role (A5): enrolment for learners, team management for staff. */
export const PROGRAM_ROLE_PERMISSIONS: Record<string, string> = {
  participant: 'manage_enrolments',
  sponsor: 'manage_enrolments',
  facilitator: 'create_team_members',
  tutor: 'create_team_members',
  program_admin: 'create_coordinator',
}

const all = (relations: readonly string[], permission: string) => Object.fromEntries(relations.map((r) => [r, permission]))

const TEAM_GRANTS: Loss = { what: 'team grants held', byHeld: all(PROGRAM_GRANTS.map(grantRelation), 'create_coordinator') }
const same = (what: string): Loss[] => [{ what }]

const on = (resourceType: string, idFrom: string, permission: string, takes?: Loss[]) =>
  takes ? { resourceType, idFrom, permission, takes } : { resourceType, idFrom, permission }

export const GOVERNING: Record<EventType, Governing> = {
  'organization.created': { self: 'ownerId' },
  'organization.ownership_transferred': on(
    'organization',
    'organizationId',
    'internal_transfer_ownership',
    same("the new owner's role, the old owner's ownership"),
  ),
  'organization.member_added': on('organization', 'organizationId', 'administer', same('the organization role held')),
  'organization.member_role_changed': on('organization', 'organizationId', 'administer', same('the organization role held')),
  'organization.member_removed': on('organization', 'organizationId', 'administer', same('all access in the organization (I8)')),
  'organization.privileges_set': on('organization', 'organizationId', 'grant_admin_privileges', same('privileges left out of the set')),
  'organization.coaching_permissions_set': on('organization', 'organizationId', 'manage_team_coaches', same('permissions left out of the set')),
  'user.deactivated': on('organization', 'organizationId', 'manage_team_coaches', [
    { what: 'a role other than coach', byHeld: { admin: 'administer', author: 'administer', member: 'administer' } },
    { what: 'admin privileges held', byHeld: all(ADMIN_PRIVILEGES, 'grant_admin_privileges') },
    { what: 'coaching permissions, pairings, group, program and course roles (I8: they go with the person)' },
  ]),
  'program.created': on('organization', 'organizationId', 'create_program'),
  'program.deleted': on('program', 'programId', 'edit_content', same('everything in the program (I7)')),
  'program.role_assigned': {
    resourceType: 'program',
    idFrom: 'programId',
    permissionByRole: PROGRAM_ROLE_PERMISSIONS,
    roleFrom: 'data',
    takes: [{ what: 'the program role it replaces', byHeld: PROGRAM_ROLE_PERMISSIONS }],
  },
  'program.role_revoked': {
    resourceType: 'program',
    idFrom: 'programId',
    permissionByRole: PROGRAM_ROLE_PERMISSIONS,
    roleFrom: 'current',
    takes: [TEAM_GRANTS],
  },
  'program.grants_set': on('program', 'programId', 'create_coordinator', same('grants left out of the set')),
  'program.group_assigned': on('program', 'programId', 'edit_content'),
  'section.created': on('program', 'programId', 'edit_content', same('a release time set before')),
  'client.created': on('organization', 'organizationId', 'add_client'),
  'client.deleted': on('client', 'clientId', 'delete', same('every pairing with the client (I7)')),
  'pairing.set': on('client', 'clientId', 'manage_pairing', same('the level held; the primary demoted by a new primary')),
  'group.created': on('organization', 'organizationId', 'can_manage_team_groups'),
  'group.deleted': on('group', 'groupId', 'internal_delete', same('every role in the group (I7)')),
  'group.coach_added': on('group', 'groupId', 'manage_coaches'),
  'group.coach_removed': on('group', 'groupId', 'manage_coaches', same('the coach role')),
  'group.member_added': on('group', 'groupId', 'manage'),
  'group.member_removed': on('group', 'groupId', 'manage', same('the membership')),
  'course.created': on('organization', 'organizationId', 'create_course'),
  'course.co_author_added': on('course', 'courseId', 'edit'),
  'course.co_author_removed': on('course', 'courseId', 'edit', same('the co-authorship')),
  'course.ownership_reassigned': on('course', 'courseId', 'reassign_ownership', same("the previous owner's ownership")),
  'user.manager_assigned': on('user', 'userId', 'internal_manage_supervision'),
  'user.manager_removed': on('user', 'userId', 'internal_manage_supervision', same('the manager relation')),
  'user.coach_nominated': { self: 'learnerId' },
  'certificate.awarded': { platformOnly: true },
}

function renderLoss(takes: Loss[] | undefined): string {
  if (!takes) return '—'
  return takes
    .map((l) => {
      if (!l.byHeld) return `${l.what}: the same permission`
      const perms = [...new Set(Object.values(l.byHeld))]
      const by =
        perms.length === 1
          ? `\`${perms[0]}\``
          : Object.entries(l.byHeld)
              .map(([held, p]) => `${held}: \`${p}\``)
              .join(', ')
      return `${l.what}: also ${by}`
    })
    .join('; ')
}

/** The table as markdown, for docs/events.md. */
export function renderGoverningTable(): string {
  const rows = Object.entries(GOVERNING).map(([type, g]) => {
    if ('self' in g) return `| \`${type}\` | — | the actor must be \`user:<${g.self}>\` | — |`
    if ('platformOnly' in g) return `| \`${type}\` | — | platform only: refused (403) when an actor is named | — |`
    const resource = `\`${g.resourceType}:<${g.idFrom}>\``
    const loss = renderLoss(g.takes)
    if ('permission' in g) return `| \`${type}\` | ${resource} | \`${g.permission}\` | ${loss} |`
    const by = Object.entries(g.permissionByRole)
      .map(([role, p]) => `${role}: \`${p}\``)
      .join(', ')
    const which = g.roleFrom === 'data' ? 'by the role assigned' : 'by every role held (none: as participant)'
    return `| \`${type}\` | ${resource} | ${which}: ${by} | ${loss} |`
  })
  return ['| event | resource | governing permission | what it takes from someone who holds it, and what governs that |', '|---|---|---|---|', ...rows].join(
    '\n',
  )
}
