/**
 * The invariants (I1-I8, stated in src/domain/invariants/rules.ts) as refusals: 409, one stable
 * code each, and a message that says what to do instead. Plain errors, so the stream consumer
 * reads them the same way.
 */
import { conflict, type GatewayError } from '../../wire/errors.js'

export const primaryRequired = (clientId: string, coachId: string): GatewayError =>
  conflict(
    'GW_PRIMARY_REQUIRED',
    `user:${coachId} is the primary coach of client:${clientId} and a client always has exactly one primary (I1). ` +
      'Make another coach primary first (pairing.set with level "primary"); that demotes this one to "coaching" in the same write.',
    { client: `client:${clientId}`, primary: `user:${coachId}` },
  )

export const primaryCoachOfClients = (orgId: string, userId: string, clients: string[], doing: string): GatewayError =>
  conflict(
    'GW_PRIMARY_COACH_OF_CLIENTS',
    `cannot ${doing} user:${userId} in organization:${orgId}: they are the primary coach of ${clients.map((c) => `client:${c}`).join(', ')} (I1, I8). ` +
      'Make another coach primary of each of these clients first (pairing.set with level "primary").',
    { organization: `organization:${orgId}`, user: `user:${userId}`, clients: clients.map((c) => `client:${c}`) },
  )

export const ownerTransferOnly = (orgId: string, detail: string): GatewayError =>
  conflict(
    'GW_OWNER_TRANSFER_ONLY',
    `${detail} (I2). Ownership of organization:${orgId} moves only with organization.ownership_transferred, which makes the old owner an admin.`,
    { organization: `organization:${orgId}` },
  )

export const ownerUntouchable = (orgId: string, ownerId: string, doing: string): GatewayError =>
  conflict(
    'GW_OWNER_UNTOUCHABLE',
    `cannot ${doing} user:${ownerId}: they own organization:${orgId} (I3). ` +
      'Only the owner may change their own privileges or permissions (send the event with actor = the owner); to remove or deactivate them, transfer ownership first.',
    { organization: `organization:${orgId}`, owner: `user:${ownerId}` },
  )

export const notAMember = (orgId: string, userId: string): GatewayError =>
  conflict('GW_NOT_A_MEMBER', `user:${userId} has no role in organization:${orgId}. Add them first with organization.member_added.`, {
    organization: `organization:${orgId}`,
    user: `user:${userId}`,
  })

export const oneRole = (resource: string, userId: string, roles: string[]): GatewayError =>
  conflict(
    'GW_ONE_ROLE',
    `user:${userId} would hold ${roles.map((r) => `"${r}"`).join(' and ')} on ${resource}: a person holds one role there (I4). ` +
      'Replace the role in one write: delete the old relationship and touch the new one together.',
    { resource, user: `user:${userId}`, roles },
  )

export const notPairable = (orgId: string, coachId: string): GatewayError =>
  conflict(
    'GW_NOT_PAIRABLE',
    `user:${coachId} cannot be paired with clients of organization:${orgId}: only members with the coach role, or the owner, can (I5). ` +
      'Give them the coach role first (organization.member_added or member_role_changed with role "coach").',
    { organization: `organization:${orgId}`, user: `user:${coachId}` },
  )

export const notCoAuthorEligible = (courseId: string, orgId: string, userId: string): GatewayError =>
  conflict(
    'GW_NOT_CO_AUTHOR_ELIGIBLE',
    `user:${userId} cannot co-author course:${courseId}: only authors, admins or the owner of organization:${orgId} can (I6). ` +
      'Give them the author or admin role first.',
    { course: `course:${courseId}`, organization: `organization:${orgId}`, user: `user:${userId}` },
  )

export const crossOrganization = (a: string, b: string): GatewayError =>
  conflict('GW_CROSS_ORGANIZATION', `${a} and ${b} belong to different organizations and cannot be linked (I7).`, { objects: [a, b] })

export const unknownObject = (object: string, createdBy: string): GatewayError =>
  conflict('GW_UNKNOWN_OBJECT', `${object} does not exist. Send ${createdBy} for it first.`, { object })

export const alreadyExists = (object: string, detail: string): GatewayError => conflict('GW_ALREADY_EXISTS', `${object} already exists: ${detail}`, { object })
