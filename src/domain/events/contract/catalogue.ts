/**
 * The closed vocabularies of domain.md: roles, privileges, permissions, grants and pairing
 * levels. Event schemas, translation and the docs all read them from here.
 */

export const ORG_ROLES = ['admin', 'coach', 'author', 'member'] as const
/** every organization relation that names a person's role; `owner` moves only by transfer (I2) */
export const ORG_ROLE_RELATIONS = ['owner', ...ORG_ROLES] as const
/** the organization relations that make a person pairable with its clients, preferred first (I5) */
export const PAIRABLE_ROLES = ['coach', 'owner'] as const
/** the organization relations that let a person co-author its courses (I6) */
export const CO_AUTHOR_ROLES = ['owner', 'admin', 'author'] as const

export const ADMIN_PRIVILEGES = [
  'schedule_all_appointments',
  'manage_team_invoices',
  'manage_team_templates',
  'manage_team_library',
  'manage_team_courses',
  'clone_team_courses',
  'manage_team_groups',
  'view_all_groups',
  'manage_branding',
  'manage_team_clients',
  'delete_team_clients',
  'manage_pairings',
  'view_all_clients',
  'coach_all_clients',
  'reassign_resources',
  'manage_coaches',
  'manage_admin_privileges',
] as const

export const COACHING_PERMISSIONS = ['schedules_own', 'invoices_own', 'adds_clients', 'deletes_own_clients', 'manages_group_coaches'] as const

export const PROGRAM_ROLES = ['program_admin', 'facilitator', 'participant', 'sponsor', 'tutor'] as const

export const PROGRAM_GRANTS = [
  'create_coordinator',
  'create_team_members',
  'view_class_list',
  'access_transcript',
  'manage_enrolments',
  'manage_applications',
] as const
export const grantRelation = (grant: string) => `grant_${grant}`

export const PAIRING_LEVELS = ['primary', 'coaching', 'view_only', 'none'] as const
/** the client relations that pair a coach with a client (C1-C6) */
export const PAIRING_RELATIONS = ['primary', 'coaching', 'view_only'] as const

export type OrgRole = (typeof ORG_ROLES)[number]
export type AdminPrivilege = (typeof ADMIN_PRIVILEGES)[number]
export type CoachingPermission = (typeof COACHING_PERMISSIONS)[number]
export type ProgramRole = (typeof PROGRAM_ROLES)[number]
export type ProgramGrant = (typeof PROGRAM_GRANTS)[number]
export type PairingLevel = (typeof PAIRING_LEVELS)[number]
