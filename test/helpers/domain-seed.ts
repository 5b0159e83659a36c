/**
 * A small but complete domain, seeded through events: every object type, every role, some
 * privileges, grants and coaching permissions. For suites that compare answers across it.
 */
import type { Test } from 'tap'
import type { TestApp } from './app.js'
import { apply, ev, seedOrg } from './events.js'

export const SEEDED_RESOURCES = [
  'organization:acme',
  'program:p1',
  'section:s-now',
  'section:s-later',
  'client:cassandra',
  'group:g1',
  'course:c1',
  'user:lee',
  'certificate:cert1',
]

export const SEEDED_SUBJECTS = ['olivia', 'adam', 'rob', 'cara', 'alex', 'ana', 'pat', 'sam', 'tia', 'lee', 'nobody'].map((u) => `user:${u}`)

export async function seedDomain(t: Test, app: TestApp) {
  await seedOrg(t, app)
  await apply(
    t,
    app,
    ev('organization.privileges_set', { organizationId: 'acme', userId: 'cara', privileges: ['view_all_clients', 'manage_team_groups'] }),
    ev('organization.coaching_permissions_set', { organizationId: 'acme', userId: 'rob', permissions: ['schedules_own', 'adds_clients'] }),
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'ana', role: 'facilitator' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'pat', role: 'participant' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'sam', role: 'sponsor' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'tia', role: 'tutor' }),
    ev('program.grants_set', { programId: 'p1', userId: 'tia', grants: ['view_class_list', 'access_transcript'] }),
    ev('group.created', { groupId: 'g1', organizationId: 'acme' }),
    ev('group.coach_added', { groupId: 'g1', userId: 'rob' }),
    ev('group.member_added', { groupId: 'g1', userId: 'pat' }),
    ev('program.group_assigned', { programId: 'p1', groupId: 'g1' }),
    ev('section.created', { sectionId: 's-now', programId: 'p1' }),
    ev('section.created', { sectionId: 's-later', programId: 'p1', releaseAt: '2999-01-01T00:00:00Z' }),
    ev('client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'rob', userId: 'lee' }),
    ev('pairing.set', { clientId: 'cassandra', coachId: 'cara', level: 'view_only' }),
    ev('course.created', { courseId: 'c1', organizationId: 'acme', ownerId: 'alex' }),
    ev('user.manager_assigned', { userId: 'lee', managerId: 'adam' }),
    ev('user.coach_nominated', { learnerId: 'lee', coachId: 'rob' }),
    ev('certificate.awarded', { certificateId: 'cert1', learnerId: 'lee' }),
  )
}
