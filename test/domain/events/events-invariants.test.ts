import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { apply, can, ev, post, refused, seedOrg, snapshot } from '../../helpers/events.js'

t.test('I1 one primary: demoting or unpairing the primary is refused and changes nothing', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(t, app, ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob' }))
  const before = await snapshot(app)
  for (const level of ['none', 'coaching', 'view_only']) {
    const body = await refused(t, app, ev('pairing.set', { clientId: 'c1', coachId: 'rob', level }), 409, 'GW_PRIMARY_REQUIRED')
    t.match(body.message, /Make another coach primary first/)
  }
  t.same(await snapshot(app), before, 'a refused event changes nothing')
})

t.test('I2 one owner: the owner has no other role; a second creation cannot change the owner', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  const before = await snapshot(app)
  await refused(t, app, ev('organization.member_role_changed', { organizationId: 'acme', userId: 'olivia', role: 'coach' }), 409, 'GW_OWNER_TRANSFER_ONLY')
  await refused(t, app, ev('organization.member_added', { organizationId: 'acme', userId: 'olivia', role: 'member' }), 409, 'GW_OWNER_TRANSFER_ONLY')
  await refused(t, app, ev('organization.created', { organizationId: 'acme', ownerId: 'rob' }), 409, 'GW_OWNER_TRANSFER_ONLY')
  t.same(await snapshot(app), before)
})

t.test('I3 owner untouchable: only the owner changes the owner; nobody removes or deactivates them', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  const before = await snapshot(app)
  await refused(t, app, ev('user.deactivated', { organizationId: 'acme', userId: 'olivia' }), 409, 'GW_OWNER_UNTOUCHABLE')
  await refused(t, app, ev('organization.member_removed', { organizationId: 'acme', userId: 'olivia' }, 'user:olivia'), 409, 'GW_OWNER_UNTOUCHABLE')
  const set = { organizationId: 'acme', userId: 'olivia', privileges: ['manage_branding'] }
  await refused(t, app, ev('organization.privileges_set', set, 'user:adam'), 409, 'GW_OWNER_UNTOUCHABLE')
  await refused(t, app, ev('organization.coaching_permissions_set', { organizationId: 'acme', userId: 'olivia', permissions: [] }), 409, 'GW_OWNER_UNTOUCHABLE')
  t.same(await snapshot(app), before)
  await apply(t, app, ev('organization.coaching_permissions_set', { organizationId: 'acme', userId: 'olivia', permissions: ['schedules_own'] }, 'user:olivia'))
  await apply(t, app, ev('organization.privileges_set', { organizationId: 'acme', userId: 'olivia', privileges: [] }, 'user:olivia'))
  t.ok(await can(app, 'organization:acme', 'can_manage_admin_privileges', 'user:olivia'), 'the owner never loses a privilege while owner')
})

t.test('I4 role change on the spot: one role at a time; changing a role needs membership', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(t, app, ev('organization.member_role_changed', { organizationId: 'acme', userId: 'alex', role: 'member' }))
  const rels = await app.engine.readRelationships(
    { resourceType: 'organization', resourceId: 'acme', subject: { type: 'user', id: 'alex' } },
    {},
    { mode: 'fully_consistent' },
  )
  t.same(
    rels.relationships.map((r) => r.relation),
    ['member'],
    'author replaced by member in one write',
  )
  const before = await snapshot(app)
  await refused(t, app, ev('organization.member_role_changed', { organizationId: 'acme', userId: 'nobody', role: 'coach' }), 409, 'GW_NOT_A_MEMBER')
  await refused(t, app, ev('organization.privileges_set', { organizationId: 'acme', userId: 'nobody', privileges: [] }), 409, 'GW_NOT_A_MEMBER')
  t.same(await snapshot(app), before)
})

t.test('I5 pairable coaches: admins-only people cannot be paired; the owner can', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(t, app, ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'olivia' }))
  const before = await snapshot(app)
  const body = await refused(t, app, ev('pairing.set', { clientId: 'c1', coachId: 'adam', level: 'coaching' }), 409, 'GW_NOT_PAIRABLE')
  t.match(body.message, /coach role first/)
  await refused(t, app, ev('client.created', { clientId: 'c2', organizationId: 'acme', primaryCoachId: 'adam' }), 409, 'GW_NOT_PAIRABLE')
  t.same(await snapshot(app), before)
})

t.test('I6 co-authors: only authors, admins or the owner', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(t, app, ev('course.created', { courseId: 'k1', organizationId: 'acme', ownerId: 'alex' }))
  const before = await snapshot(app)
  await refused(t, app, ev('course.co_author_added', { courseId: 'k1', userId: 'rob' }), 409, 'GW_NOT_CO_AUTHOR_ELIGIBLE')
  t.same(await snapshot(app), before)
  await apply(t, app, ev('course.co_author_added', { courseId: 'k1', userId: 'adam' }), ev('course.co_author_added', { courseId: 'k1', userId: 'olivia' }))
})

t.test('I7 scope: deleting a program, client or group removes every relationship pointing at it', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await seedOrg(t, app, 'other')
  await apply(
    t,
    app,
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('program.created', { programId: 'p2', organizationId: 'acme' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'ana', role: 'facilitator' }),
    ev('program.grants_set', { programId: 'p1', userId: 'ana', grants: ['view_class_list'] }),
    ev('group.created', { groupId: 'g1', organizationId: 'acme' }),
    ev('group.created', { groupId: 'gx', organizationId: 'other' }),
    ev('group.coach_added', { groupId: 'g1', userId: 'rob' }),
    ev('program.group_assigned', { programId: 'p1', groupId: 'g1' }),
    ev('section.created', { sectionId: 's1', programId: 'p1', releaseAt: '2999-01-01T00:00:00Z' }),
    ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob', userId: 'cass' }),
  )
  t.notOk(await can(app, 'program:p2', 'run', 'user:ana'), "a facilitator's access never leaks to other programs")
  await refused(t, app, ev('program.group_assigned', { programId: 'p1', groupId: 'gx' }), 409, 'GW_CROSS_ORGANIZATION')
  await apply(t, app, ev('group.deleted', { groupId: 'g1' }))
  t.notOk(await can(app, 'program:p1', 'view_stats', 'user:rob'))
  await apply(t, app, ev('program.deleted', { programId: 'p1' }), ev('client.deleted', { clientId: 'c1' }))
  const left = (await snapshot(app)).filter((r) => /program:p1|client:c1|group:g1|section:s1/.test(r))
  t.same(left, [], 'nothing points at the deleted objects')
  t.notOk(await can(app, 'section:s1', 'view', 'user:ana'))
  t.notOk(await can(app, 'client:c1', 'view', 'user:cass'))
  await refused(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'ana', role: 'tutor' }), 409, 'GW_UNKNOWN_OBJECT')
})

t.test('I8 deactivation: refused for a primary coach, naming the clients; then removes all access in one write', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await seedOrg(t, app, 'other')
  await apply(
    t,
    app,
    ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob' }),
    ev('client.created', { clientId: 'c2', organizationId: 'acme', primaryCoachId: 'rob' }),
    ev('client.created', { clientId: 'x1', organizationId: 'other', primaryCoachId: 'cara' }),
    ev('pairing.set', { clientId: 'x1', coachId: 'rob', level: 'coaching' }),
    ev('organization.privileges_set', { organizationId: 'acme', userId: 'rob', privileges: ['view_all_groups'] }),
    ev('organization.coaching_permissions_set', { organizationId: 'acme', userId: 'rob', permissions: ['schedules_own'] }),
    ev('group.created', { groupId: 'g1', organizationId: 'acme' }),
    ev('group.coach_added', { groupId: 'g1', userId: 'rob' }),
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'rob', role: 'facilitator' }),
    ev('program.grants_set', { programId: 'p1', userId: 'rob', grants: ['view_class_list'] }),
  )
  const before = await snapshot(app)
  const body = await refused(t, app, ev('user.deactivated', { organizationId: 'acme', userId: 'rob' }), 409, 'GW_PRIMARY_COACH_OF_CLIENTS')
  t.same(body.details?.clients, ['client:c1', 'client:c2'])
  t.match(body.message, /client:c1, client:c2/)
  await refused(t, app, ev('organization.member_role_changed', { organizationId: 'acme', userId: 'rob', role: 'admin' }), 409, 'GW_PRIMARY_COACH_OF_CLIENTS')
  t.same(await snapshot(app), before)

  await apply(
    t,
    app,
    ev('pairing.set', { clientId: 'c1', coachId: 'cara', level: 'primary' }),
    ev('pairing.set', { clientId: 'c2', coachId: 'cara', level: 'primary' }),
  )
  await apply(t, app, ev('user.deactivated', { organizationId: 'acme', userId: 'rob' }))
  const robInAcme = (await snapshot(app)).filter((r) => r.endsWith('@user:rob') && !r.includes('x1') && !r.includes('organization:other'))
  t.same(robInAcme, [], 'no relationship of rob in acme is left')
  t.ok(await can(app, 'client:x1', 'coach', 'user:rob'), 'access in another organization stays')
  t.ok(await can(app, 'organization:other', 'pairable', 'user:rob'))
})

t.test('bad input: 400 naming the field, nothing written; unknown types have their own code', async (t) => {
  const app = await buildTestApp(t)
  const before = await snapshot(app)
  const good = ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' })
  let res = await post(app, { events: [good, ev('pairing.set', { clientId: 'bad id!', coachId: 'r', level: 'primary' })] })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'GW_INVALID_EVENT', field: 'events.1.data.clientId' })
  res = await post(app, { events: [good, ev('pairing.set', { clientId: 'c', level: 'primary' })] })
  t.match(res.json(), { code: 'GW_INVALID_EVENT', field: 'events.1.data.coachId' })
  res = await post(app, ev('pairing.set', { clientId: 'c', coachId: 'r', level: 'boss' }))
  t.match(res.json(), { code: 'GW_INVALID_EVENT', field: 'data.level' })
  res = await post(app, { events: [good, { id: 'x', type: 'client.teleported', data: {} }] })
  t.match(res.json(), { statusCode: 400, code: 'GW_UNKNOWN_EVENT_TYPE', field: 'events.1.type' })
  res = await post(app, { ...good, actor: 'group:g1' })
  t.match(res.json(), { code: 'GW_INVALID_EVENT', field: 'actor' })
  res = await post(app, { ...good, extra: 1 })
  t.match(res.json(), { code: 'GW_INVALID_EVENT', field: 'extra' })
  t.same(await snapshot(app), before, 'nothing written')
})

t.test('a batch is applied in order and stops at the first refusal, reporting what was applied', async (t) => {
  const app = await buildTestApp(t)
  const events = [
    ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' }),
    ev('organization.member_added', { organizationId: 'acme', userId: 'adam', role: 'admin' }),
    ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'adam' }),
    ev('organization.member_added', { organizationId: 'acme', userId: 'rob', role: 'coach' }),
  ]
  const res = await post(app, { events })
  t.equal(res.statusCode, 409)
  t.match(res.json(), { code: 'GW_NOT_PAIRABLE', details: { failedIndex: 2, results: [{ status: 'applied' }, { status: 'applied' }] } })
  t.notOk(await can(app, 'organization:acme', 'pairable', 'user:rob'), 'events after the refusal are not applied')
  events[2] = ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'olivia' })
  const again = await post(app, { events })
  t.equal(again.statusCode, 200)
  t.same(
    again.json().results.map((r: { status: string }) => r.status),
    ['duplicate', 'duplicate', 'applied', 'applied'],
  )
})
