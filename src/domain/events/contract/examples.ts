/**
 * One example per event type: OpenAPI shows them, docs/events.md lists them, and the tests
 * replay them to prove every example is valid.
 */
export const EVENT_EXAMPLES = {
  'organization.created': { organizationId: 'acme', ownerId: 'olivia' },
  'organization.ownership_transferred': { organizationId: 'acme', newOwnerId: 'adam' },
  'organization.member_added': { organizationId: 'acme', userId: 'rob', role: 'coach' },
  'organization.member_role_changed': { organizationId: 'acme', userId: 'sam', role: 'author' },
  'organization.member_removed': { organizationId: 'acme', userId: 'sam' },
  'organization.privileges_set': { organizationId: 'acme', userId: 'rob', privileges: ['manage_pairings', 'view_all_clients'] },
  'organization.coaching_permissions_set': { organizationId: 'acme', userId: 'rob', permissions: ['schedules_own', 'invoices_own'] },
  'user.deactivated': { organizationId: 'acme', userId: 'jeannine' },
  'program.created': { programId: 'leadership-101', organizationId: 'acme' },
  'program.deleted': { programId: 'leadership-101' },
  'program.role_assigned': { programId: 'leadership-101', userId: 'ana', role: 'facilitator' },
  'program.role_revoked': { programId: 'leadership-101', userId: 'ana' },
  'program.grants_set': { programId: 'leadership-101', userId: 'ana', grants: ['view_class_list', 'access_transcript'] },
  'program.group_assigned': { programId: 'leadership-101', groupId: 'cohort-7' },
  'section.created': { sectionId: 'week-2', programId: 'leadership-101', releaseAt: '2030-01-08T09:00:00Z' },
  'client.created': { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'rob', userId: 'cassandra' },
  'client.deleted': { clientId: 'cassandra' },
  'pairing.set': { clientId: 'cassandra', coachId: 'rob', level: 'primary' },
  'group.created': { groupId: 'cohort-7', organizationId: 'acme' },
  'group.deleted': { groupId: 'cohort-7' },
  'group.coach_added': { groupId: 'cohort-7', userId: 'rob' },
  'group.coach_removed': { groupId: 'cohort-7', userId: 'rob' },
  'group.member_added': { groupId: 'cohort-7', userId: 'mia' },
  'group.member_removed': { groupId: 'cohort-7', userId: 'mia' },
  'course.created': { courseId: 'feedback-basics', organizationId: 'acme', ownerId: 'alex' },
  'course.co_author_added': { courseId: 'feedback-basics', userId: 'bea' },
  'course.co_author_removed': { courseId: 'feedback-basics', userId: 'bea' },
  'course.ownership_reassigned': { courseId: 'feedback-basics', newOwnerId: 'bea' },
  'user.manager_assigned': { userId: 'mia', managerId: 'max' },
  'user.manager_removed': { userId: 'mia', managerId: 'max' },
  'user.coach_nominated': { learnerId: 'mia', coachId: 'rob' },
  'certificate.awarded': { certificateId: 'cert-991', learnerId: 'mia' },
} as const

/** A whole envelope for an example, as a caller would send it. */
export function exampleEvent(type: keyof typeof EVENT_EXAMPLES, id = `evt-${type}`) {
  return { id, type, occurredAt: '2025-03-01T10:00:00Z', data: EVENT_EXAMPLES[type] }
}

/**
 * A small coaching business, as events: the first example of POST /v1/events in /docs, so a new
 * user can seed it with one click and then run every other example there as shown (they name
 * these people and objects). test/contract/openapi-examples.test.ts sends it first, then every example.
 */
export const FIRST_HOUR_EVENTS = [
  ['organization.created', { organizationId: 'acme', ownerId: 'olivia' }],
  ['organization.member_added', { organizationId: 'acme', userId: 'adam', role: 'admin' }],
  ['organization.member_added', { organizationId: 'acme', userId: 'rob', role: 'coach' }],
  ['organization.member_added', { organizationId: 'acme', userId: 'jeannine', role: 'coach' }],
  ['organization.member_added', { organizationId: 'acme', userId: 'vic', role: 'admin' }],
  ['organization.privileges_set', { organizationId: 'acme', userId: 'vic', privileges: ['view_all_clients'] }],
  ['organization.member_added', { organizationId: 'acme', userId: 'alex', role: 'author' }],
  ['organization.member_added', { organizationId: 'acme', userId: 'bea', role: 'author' }],
  ['organization.member_added', { organizationId: 'acme', userId: 'sam', role: 'member' }],
  ['client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'rob', userId: 'cassandra' }],
  ['pairing.set', { clientId: 'cassandra', coachId: 'jeannine', level: 'view_only' }],
  ['program.created', { programId: 'leadership-101', organizationId: 'acme' }],
  ['program.role_assigned', { programId: 'leadership-101', userId: 'ana', role: 'facilitator' }],
  ['group.created', { groupId: 'cohort-7', organizationId: 'acme' }],
  ['group.coach_added', { groupId: 'cohort-7', userId: 'rob' }],
  ['group.member_added', { groupId: 'cohort-7', userId: 'mia' }],
  ['course.created', { courseId: 'feedback-basics', organizationId: 'acme', ownerId: 'alex' }],
].map(([type, data], i) => ({ id: `first-hour-${String(i + 1).padStart(2, '0')}`, type, data })) as {
  id: string
  type: keyof typeof EVENT_EXAMPLES
  data: Record<string, unknown>
}[]
