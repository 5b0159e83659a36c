import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { apply, can, ev, post, seedOrg } from '../../helpers/events.js'

t.test('organization events: roles, privileges and coaching permissions become checkable', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  t.ok(await can(app, 'organization:acme', 'manage_billing', 'user:olivia'))
  t.ok(await can(app, 'organization:acme', 'administer', 'user:adam'))
  t.notOk(await can(app, 'organization:acme', 'administer', 'user:rob'))
  t.ok(await can(app, 'organization:acme', 'create_course', 'user:alex'))

  await apply(t, app, ev('organization.privileges_set', { organizationId: 'acme', userId: 'rob', privileges: ['manage_pairings', 'view_all_clients'] }))
  t.ok(await can(app, 'organization:acme', 'can_manage_pairings', 'user:rob'))
  await apply(t, app, ev('organization.privileges_set', { organizationId: 'acme', userId: 'rob', privileges: ['manage_admin_privileges'] }))
  t.notOk(await can(app, 'organization:acme', 'can_manage_pairings', 'user:rob'), 'the set is replaced')
  t.ok(await can(app, 'organization:acme', 'manage_team_coaches', 'user:rob'), 'manage_admin_privileges implies manage_coaches')

  await apply(t, app, ev('organization.coaching_permissions_set', { organizationId: 'acme', userId: 'rob', permissions: ['adds_clients'] }))
  t.ok(await can(app, 'organization:acme', 'add_client', 'user:rob'))
  await apply(t, app, ev('organization.coaching_permissions_set', { organizationId: 'acme', userId: 'rob', permissions: [] }))
  t.notOk(await can(app, 'organization:acme', 'add_client', 'user:rob'))

  await apply(t, app, ev('organization.member_role_changed', { organizationId: 'acme', userId: 'alex', role: 'admin' }))
  t.ok(await can(app, 'organization:acme', 'administer', 'user:alex'))
  t.notOk(await can(app, 'organization:acme', 'pairable', 'user:alex'))

  await apply(t, app, ev('organization.ownership_transferred', { organizationId: 'acme', newOwnerId: 'adam' }))
  t.ok(await can(app, 'organization:acme', 'manage_billing', 'user:adam'))
  t.notOk(await can(app, 'organization:acme', 'manage_billing', 'user:olivia'))
  t.ok(await can(app, 'organization:acme', 'administer', 'user:olivia'), 'the old owner becomes an admin')

  await apply(t, app, ev('organization.member_removed', { organizationId: 'acme', userId: 'alex' }))
  t.notOk(await can(app, 'organization:acme', 'seat', 'user:alex'))
})

t.test('program and section events', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(
    t,
    app,
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'ana', role: 'facilitator' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'pat', role: 'participant' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'sam', role: 'sponsor' }),
    ev('group.created', { groupId: 'g1', organizationId: 'acme' }),
    ev('group.coach_added', { groupId: 'g1', userId: 'rob' }),
    ev('program.group_assigned', { programId: 'p1', groupId: 'g1' }),
    ev('section.created', { sectionId: 's-now', programId: 'p1' }),
    ev('section.created', { sectionId: 's-later', programId: 'p1', releaseAt: '2999-01-01T00:00:00Z' }),
  )
  t.ok(await can(app, 'program:p1', 'run', 'user:ana'))
  t.ok(await can(app, 'organization:acme', 'seat', 'user:ana'))
  t.notOk(await can(app, 'organization:acme', 'seat', 'user:pat'))
  t.ok(await can(app, 'program:p1', 'view_progress', 'user:sam'))
  t.ok(await can(app, 'program:p1', 'view_stats', 'user:rob'), 'coach of an assigned group')
  t.ok(await can(app, 'section:s-now', 'view', 'user:pat'))
  t.notOk(await can(app, 'section:s-later', 'view', 'user:pat'), 'locked until release')
  t.ok(await can(app, 'section:s-later', 'view', 'user:ana'), 'facilitators see locked content')

  await apply(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'pat', role: 'tutor' }))
  t.notOk((await can(app, 'program:p1', 'participate', 'user:pat')) && !(await can(app, 'program:p1', 'manage_enrolments', 'user:pat')))
  t.ok(await can(app, 'program:p1', 'manage_enrolments', 'user:pat'), 'role replaced on the spot')

  await apply(t, app, ev('program.grants_set', { programId: 'p1', userId: 'pat', grants: ['view_class_list', 'access_transcript'] }))
  t.ok(await can(app, 'program:p1', 'access_transcript', 'user:pat'))
  await apply(t, app, ev('program.grants_set', { programId: 'p1', userId: 'pat', grants: ['view_class_list'] }))
  t.notOk(await can(app, 'program:p1', 'access_transcript', 'user:pat'))
  t.ok(await can(app, 'program:p1', 'view_class_list', 'user:pat'))

  await apply(t, app, ev('program.role_revoked', { programId: 'p1', userId: 'pat' }))
  t.notOk(await can(app, 'program:p1', 'view_class_list', 'user:pat'), 'revoking takes the grants too')
  t.notOk(await can(app, 'program:p1', 'listed_member', 'user:pat'))
})

t.test('client, pairing, group, course, user and certificate events', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(
    t,
    app,
    ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob', userId: 'cass' }),
    ev('pairing.set', { clientId: 'c1', coachId: 'cara', level: 'view_only' }),
  )
  t.ok(await can(app, 'client:c1', 'notify', 'user:rob'))
  t.ok(await can(app, 'client:c1', 'view', 'user:cass'))
  t.ok(await can(app, 'client:c1', 'view', 'user:cara'))
  t.notOk(await can(app, 'client:c1', 'coach', 'user:cara'))
  await apply(t, app, ev('pairing.set', { clientId: 'c1', coachId: 'cara', level: 'primary' }))
  t.ok(await can(app, 'client:c1', 'notify', 'user:cara'))
  t.notOk(await can(app, 'client:c1', 'notify', 'user:rob'))
  t.ok(await can(app, 'client:c1', 'listed_coach', 'user:rob'), 'the old primary is demoted to coaching')
  await apply(t, app, ev('pairing.set', { clientId: 'c1', coachId: 'rob', level: 'none' }))
  t.notOk(await can(app, 'client:c1', 'view', 'user:rob'))

  await apply(
    t,
    app,
    ev('group.created', { groupId: 'g1', organizationId: 'acme' }),
    ev('group.member_added', { groupId: 'g1', userId: 'mia' }),
    ev('group.coach_added', { groupId: 'g1', userId: 'rob' }),
  )
  t.ok(await can(app, 'group:g1', 'view', 'user:mia'))
  t.ok(await can(app, 'group:g1', 'view_happenings', 'user:rob'))
  await apply(t, app, ev('group.member_removed', { groupId: 'g1', userId: 'mia' }), ev('group.coach_removed', { groupId: 'g1', userId: 'rob' }))
  t.notOk(await can(app, 'group:g1', 'view', 'user:mia'))
  t.notOk(await can(app, 'group:g1', 'view', 'user:rob'))

  await apply(
    t,
    app,
    ev('course.created', { courseId: 'k1', organizationId: 'acme', ownerId: 'alex' }),
    ev('course.co_author_added', { courseId: 'k1', userId: 'adam' }),
  )
  t.ok(await can(app, 'course:k1', 'edit', 'user:adam'))
  t.ok(await can(app, 'course:k1', 'clone', 'user:alex'))
  await apply(
    t,
    app,
    ev('course.co_author_removed', { courseId: 'k1', userId: 'adam' }),
    ev('course.ownership_reassigned', { courseId: 'k1', newOwnerId: 'olivia' }),
  )
  t.notOk(await can(app, 'course:k1', 'clone', 'user:alex'))
  t.ok(await can(app, 'course:k1', 'clone', 'user:olivia'))

  await apply(
    t,
    app,
    ev('user.manager_assigned', { userId: 'mia', managerId: 'max' }),
    ev('user.coach_nominated', { learnerId: 'mia', coachId: 'rob' }),
    ev('certificate.awarded', { certificateId: 'cert1', learnerId: 'mia' }),
  )
  t.ok(await can(app, 'user:mia', 'view_learning_stats', 'user:max'))
  t.ok(await can(app, 'user:mia', 'view_learning_stats', 'user:rob'))
  t.ok(await can(app, 'certificate:cert1', 'retrieve', 'user:mia'))
  t.notOk(await can(app, 'certificate:cert1', 'retrieve', 'user:max'), 'never the manager')
  await apply(t, app, ev('user.manager_removed', { userId: 'mia', managerId: 'max' }))
  t.notOk(await can(app, 'user:mia', 'view_learning_stats', 'user:max'))
})

t.test('a single event answers one result with its writtenAt', async (t) => {
  const app = await buildTestApp(t)
  const res = await post(app, ev('organization.created', { organizationId: 'solo', ownerId: 'o' }))
  t.equal(res.statusCode, 200)
  t.match(res.json(), { results: [{ status: 'applied', writtenAt: String }] })
})
