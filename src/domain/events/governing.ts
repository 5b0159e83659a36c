/**
 * Which permission governs each event: when an event names an `actor`, the gateway applies it
 * only if the actor holds this permission on this resource, checked fully consistent against
 * the schema in force. Data, not code: docs/events.md renders this table (a test keeps the two
 * equal).
 */
import type { EventType } from './schemas.js'

export type Governing =
  /** the actor must hold `permission` on `resourceType:<data[idFrom]>` */
  | { resourceType: string; idFrom: string; permission: string }
  /** as above, the permission depending on the program role assigned (or currently held) */
  | { resourceType: string; idFrom: string; permissionByRole: Record<string, string>; roleFrom: 'data' | 'current' }
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

const on = (resourceType: string, idFrom: string, permission: string) => ({ resourceType, idFrom, permission })

export const GOVERNING: Record<EventType, Governing> = {
  'organization.created': { self: 'ownerId' },
  'organization.ownership_transferred': on('organization', 'organizationId', 'internal_transfer_ownership'),
  'organization.member_added': on('organization', 'organizationId', 'administer'),
  'organization.member_role_changed': on('organization', 'organizationId', 'administer'),
  'organization.member_removed': on('organization', 'organizationId', 'administer'),
  'organization.privileges_set': on('organization', 'organizationId', 'grant_admin_privileges'),
  'organization.coaching_permissions_set': on('organization', 'organizationId', 'manage_team_coaches'),
  'user.deactivated': on('organization', 'organizationId', 'manage_team_coaches'),
  'program.created': on('organization', 'organizationId', 'create_program'),
  'program.deleted': on('program', 'programId', 'edit_content'),
  'program.role_assigned': { resourceType: 'program', idFrom: 'programId', permissionByRole: PROGRAM_ROLE_PERMISSIONS, roleFrom: 'data' },
  'program.role_revoked': { resourceType: 'program', idFrom: 'programId', permissionByRole: PROGRAM_ROLE_PERMISSIONS, roleFrom: 'current' },
  'program.grants_set': on('program', 'programId', 'create_coordinator'),
  'program.group_assigned': on('program', 'programId', 'edit_content'),
  'section.created': on('program', 'programId', 'edit_content'),
  'client.created': on('organization', 'organizationId', 'add_client'),
  'client.deleted': on('client', 'clientId', 'delete'),
  'pairing.set': on('client', 'clientId', 'manage_pairing'),
  'group.created': on('organization', 'organizationId', 'can_manage_team_groups'),
  'group.deleted': on('group', 'groupId', 'internal_delete'),
  'group.coach_added': on('group', 'groupId', 'manage_coaches'),
  'group.coach_removed': on('group', 'groupId', 'manage_coaches'),
  'group.member_added': on('group', 'groupId', 'manage'),
  'group.member_removed': on('group', 'groupId', 'manage'),
  'course.created': on('organization', 'organizationId', 'create_course'),
  'course.co_author_added': on('course', 'courseId', 'edit'),
  'course.co_author_removed': on('course', 'courseId', 'edit'),
  'course.ownership_reassigned': on('course', 'courseId', 'reassign_ownership'),
  'user.manager_assigned': on('user', 'userId', 'internal_manage_supervision'),
  'user.manager_removed': on('user', 'userId', 'internal_manage_supervision'),
  'user.coach_nominated': { self: 'learnerId' },
  'certificate.awarded': { platformOnly: true },
}

/** The table as markdown, for docs/events.md. */
export function renderGoverningTable(): string {
  const rows = Object.entries(GOVERNING).map(([type, g]) => {
    if ('self' in g) return `| \`${type}\` | — | the actor must be \`user:<${g.self}>\` |`
    if ('platformOnly' in g) return `| \`${type}\` | — | platform only: refused (403) when an actor is named |`
    const resource = `\`${g.resourceType}:<${g.idFrom}>\``
    if ('permission' in g) return `| \`${type}\` | ${resource} | \`${g.permission}\` |`
    const by = Object.entries(g.permissionByRole).map(([role, p]) => `${role}: \`${p}\``).join(', ')
    return `| \`${type}\` | ${resource} | by the role ${g.roleFrom === 'data' ? 'assigned' : 'currently held'}: ${by} |`
  })
  return ['| event | resource | governing permission |', '|---|---|---|', ...rows].join('\n')
}
