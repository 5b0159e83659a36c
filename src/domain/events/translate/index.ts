/**
 * Event type -> translator. Each translator reads what it depends on, enforces the
 * invariants and returns the one write (updates + preconditions) the event becomes.
 */
import type { EventType } from '../contract/schemas.js'
import { clientCreated, pairingSet } from './client.js'
import type { Translator } from './context.js'
import { coachingPermissionsSet, memberAdded, memberRoleChanged, organizationCreated, ownershipTransferred, privilegesSet } from './organization.js'
import * as people from './people.js'
import { grantsSet, groupAssigned, programCreated, roleAssigned, roleRevoked, sectionCreated } from './program.js'
import { clientDeleted, groupDeleted, memberRemoved, programDeleted, userDeactivated } from './removal.js'

export const TRANSLATORS: { [T in EventType]: Translator<T> } = {
  'organization.created': organizationCreated,
  'organization.ownership_transferred': ownershipTransferred,
  'organization.member_added': memberAdded,
  'organization.member_role_changed': memberRoleChanged,
  'organization.member_removed': memberRemoved,
  'organization.privileges_set': privilegesSet,
  'organization.coaching_permissions_set': coachingPermissionsSet,
  'user.deactivated': userDeactivated,
  'program.created': programCreated,
  'program.deleted': programDeleted,
  'program.role_assigned': roleAssigned,
  'program.role_revoked': roleRevoked,
  'program.grants_set': grantsSet,
  'program.group_assigned': groupAssigned,
  'section.created': sectionCreated,
  'client.created': clientCreated,
  'client.deleted': clientDeleted,
  'pairing.set': pairingSet,
  'group.created': people.groupCreated,
  'group.deleted': groupDeleted,
  'group.coach_added': people.groupCoachAdded,
  'group.coach_removed': people.groupCoachRemoved,
  'group.member_added': people.groupMemberAdded,
  'group.member_removed': people.groupMemberRemoved,
  'course.created': people.courseCreated,
  'course.co_author_added': people.coAuthorAdded,
  'course.co_author_removed': people.coAuthorRemoved,
  'course.ownership_reassigned': people.ownershipReassigned,
  'user.manager_assigned': people.managerAssigned,
  'user.manager_removed': people.managerRemoved,
  'user.coach_nominated': people.coachNominated,
  'certificate.awarded': people.certificateAwarded,
}

export type { TranslateContext } from './context.js'
