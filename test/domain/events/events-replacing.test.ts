/**
 * An event that takes something a person already holds is governed by the permission over what
 * is lost as well as what is gained (domain.md's actor rule, docs/events.md). Each case below
 * has an actor who may give the new thing but not take the old one: 403, and nothing changed.
 */
import t, { type Test } from 'tap'
import { buildTestApp, type TestApp } from '../../helpers/app.js'
import { apply, can, ev, refused, seedOrg, snapshot } from '../../helpers/events.js'
import { translateEvent } from '../../../src/domain/events/apply/apply.js'
import { parseEvent } from '../../../src/domain/events/contract/parse.js'
import { indexSchema } from '../../../src/domain/schema/subject-uses.js'

/** Refused with 403 GW_FORBIDDEN, the relationships unchanged, and these checks still hold. */
async function forbiddenAndUnchanged(t: Test, app: TestApp, event: object, stillTrue: [string, string, string][]) {
  const before = await snapshot(app)
  const body = await refused(t, app, event, 403, 'GW_FORBIDDEN')
  t.same(await snapshot(app), before, 'nothing changed')
  for (const [resource, permission, subject] of stillTrue) t.ok(await can(app, resource, permission, subject), `${resource} ${permission} ${subject} still`)
  return body
}

t.test('issue 12 reproduction: a tutor cannot demote a program admin by assigning them the participant role', async (t) => {
  const app = await buildTestApp(t)
  await apply(
    t,
    app,
    ev('organization.created', { organizationId: 'o', ownerId: 'owner' }),
    ev('program.created', { programId: 'p', organizationId: 'o' }),
    ev('program.role_assigned', { programId: 'p', userId: 'pa', role: 'program_admin' }),
    ev('program.role_assigned', { programId: 'p', userId: 'tu', role: 'tutor' }),
  )
  const body = await forbiddenAndUnchanged(t, app, ev('program.role_assigned', { programId: 'p', userId: 'pa', role: 'participant' }, 'user:tu'), [
    ['program:p', 'edit_content', 'user:pa'],
  ])
  t.match(body.message, /create_coordinator.*takes program_admin from user:pa/)
  t.notOk(await can(app, 'program:p', 'listed_member', 'user:nobody'))
  // The tutor still enrols people who hold no role, and the program admin may demote themselves.
  await apply(t, app, ev('program.role_assigned', { programId: 'p', userId: 'new', role: 'participant' }, 'user:tu'))
  await apply(t, app, ev('program.role_assigned', { programId: 'p', userId: 'pa', role: 'participant' }, 'user:pa'))
  t.notOk(await can(app, 'program:p', 'edit_content', 'user:pa'))
  t.ok(await can(app, 'program:p', 'participate', 'user:pa'))
})

t.test("program.role_assigned: the role replaced is governed too, also for one's own role", async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(
    t,
    app,
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'pam', role: 'program_admin' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'fay', role: 'facilitator' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'tina', role: 'tutor' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'tm', role: 'facilitator' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'cc', role: 'sponsor' }),
    ev('program.grants_set', { programId: 'p1', userId: 'tm', grants: ['create_team_members'] }),
    ev('program.grants_set', { programId: 'p1', userId: 'cc', grants: ['create_coordinator'] }),
  )
  // A tutor (manage_enrolments) turning themselves into a participant takes the tutor role (create_team_members).
  await forbiddenAndUnchanged(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'tina', role: 'participant' }, 'user:tina'), [
    ['program:p1', 'view_stats', 'user:tina'],
  ])
  // A team-member creator may make facilitators, but not out of a program admin (create_coordinator).
  await forbiddenAndUnchanged(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'pam', role: 'facilitator' }, 'user:tm'), [
    ['program:p1', 'edit_content', 'user:pam'],
  ])
  // A coordinator creator may make program admins, but not out of a facilitator (create_team_members).
  await forbiddenAndUnchanged(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'fay', role: 'program_admin' }, 'user:cc'), [
    ['program:p1', 'run', 'user:fay'],
  ])
  // With the permissions over both roles, the same replacements are applied.
  await apply(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'fay', role: 'tutor' }, 'user:tm'))
  await apply(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'pam', role: 'facilitator' }, 'user:adam'))
  t.notOk(await can(app, 'program:p1', 'edit_content', 'user:pam'))
  // Re-assigning the role already held takes nothing: the new role's permission is enough.
  await apply(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'new', role: 'participant' }, 'user:tina'))
  await apply(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'new', role: 'participant' }, 'user:tina'))
})

t.test('program.role_revoked takes the team grants too, so it needs create_coordinator when grants are held', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(
    t,
    app,
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'tina', role: 'tutor' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'pat', role: 'participant' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'pia', role: 'participant' }),
    ev('program.grants_set', { programId: 'p1', userId: 'pat', grants: ['view_class_list'] }),
  )
  const body = await forbiddenAndUnchanged(t, app, ev('program.role_revoked', { programId: 'p1', userId: 'pat' }, 'user:tina'), [
    ['program:p1', 'view_class_list', 'user:pat'],
    ['program:p1', 'participate', 'user:pat'],
  ])
  t.match(body.message, /create_coordinator.*takes grant_view_class_list/)
  await apply(t, app, ev('program.role_revoked', { programId: 'p1', userId: 'pia' }, 'user:tina'))
  await apply(t, app, ev('program.role_revoked', { programId: 'p1', userId: 'pat' }, 'user:adam'))
  t.notOk(await can(app, 'program:p1', 'view_class_list', 'user:pat'))
})

t.test('user.deactivated: manage_coaches deactivates coaches, not admins, authors or holders of admin privileges', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(
    t,
    app,
    ev('organization.member_added', { organizationId: 'acme', userId: 'hr', role: 'coach' }),
    ev('organization.member_added', { organizationId: 'acme', userId: 'sam', role: 'coach' }),
    ev('organization.privileges_set', { organizationId: 'acme', userId: 'hr', privileges: ['manage_coaches'] }),
    ev('organization.privileges_set', { organizationId: 'acme', userId: 'cara', privileges: ['manage_admin_privileges'] }),
  )
  await forbiddenAndUnchanged(t, app, ev('user.deactivated', { organizationId: 'acme', userId: 'adam' }, 'user:hr'), [
    ['organization:acme', 'administer', 'user:adam'],
  ])
  await forbiddenAndUnchanged(t, app, ev('user.deactivated', { organizationId: 'acme', userId: 'alex' }, 'user:hr'), [
    ['organization:acme', 'create_course', 'user:alex'],
  ])
  const body = await forbiddenAndUnchanged(t, app, ev('user.deactivated', { organizationId: 'acme', userId: 'cara' }, 'user:hr'), [
    ['organization:acme', 'grant_admin_privileges', 'user:cara'],
  ])
  t.match(body.message, /grant_admin_privileges.*takes manage_admin_privileges from user:cara/)
  await apply(t, app, ev('user.deactivated', { organizationId: 'acme', userId: 'sam' }, 'user:hr'))
  t.notOk(await can(app, 'organization:acme', 'seat', 'user:sam'))
  await apply(t, app, ev('user.deactivated', { organizationId: 'acme', userId: 'cara' }, 'user:olivia'))
  t.notOk(await can(app, 'organization:acme', 'grant_admin_privileges', 'user:cara'))
})

t.test('removals and deletions of never-created objects are applied no-ops; member removal needs the organization', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  const before = await snapshot(app)
  const noops = [
    ev('program.deleted', { programId: 'ghost' }),
    ev('client.deleted', { clientId: 'ghost' }),
    ev('group.deleted', { groupId: 'ghost' }),
    ev('program.role_revoked', { programId: 'ghost', userId: 'rob' }),
    ev('group.coach_removed', { groupId: 'ghost', userId: 'rob' }),
    ev('group.member_removed', { groupId: 'ghost', userId: 'rob' }),
    ev('course.co_author_removed', { courseId: 'ghost', userId: 'rob' }),
    ev('user.manager_removed', { userId: 'rob', managerId: 'ghost' }),
  ]
  const res = await apply(t, app, ...noops)
  t.same(
    res.results.map((r) => r.status),
    noops.map(() => 'applied'),
  )
  t.same(await snapshot(app), before, 'nothing changed')
  await refused(t, app, ev('organization.member_removed', { organizationId: 'ghost', userId: 'rob' }), 409, 'GW_UNKNOWN_OBJECT')
  await refused(t, app, ev('user.deactivated', { organizationId: 'ghost', userId: 'rob' }), 409, 'GW_UNKNOWN_OBJECT')
  await refused(t, app, ev('program.role_assigned', { programId: 'ghost', userId: 'rob', role: 'tutor' }), 409, 'GW_UNKNOWN_OBJECT')
  // With an actor, the actor check comes first: no one holds a permission on what does not exist.
  await refused(t, app, ev('program.deleted', { programId: 'ghost' }, 'user:olivia'), 403, 'GW_FORBIDDEN')
  t.same(await snapshot(app), before)
})

t.test('race: a role changed between the actor check and the write is judged again, never demoted by a tutor', async (t) => {
  const app = await buildTestApp(t)
  const deps = { engine: app.engine, schema: indexSchema(app.schemaText), clock: () => new Date() }
  const ROUNDS = 150
  await apply(t, app, ev('organization.created', { organizationId: 'o', ownerId: 'owner' }))
  await apply(
    t,
    app,
    ...Array.from({ length: ROUNDS }, (_, i) => [
      ev('program.created', { programId: `p${i}`, organizationId: 'o' }),
      ev('program.role_assigned', { programId: `p${i}`, userId: 'tu', role: 'tutor' }),
      ev('program.role_assigned', { programId: `p${i}`, userId: 'pa', role: 'participant' }),
    ]).flat(),
  )
  // Per round, at once and with no in-process queue: the platform promotes pa to program admin,
  // and the tutor "assigns" pa the participant role. If the tutor's write lands after the
  // promotion, it takes program_admin away, which a tutor may not do.
  let demoted = 0
  const failures: string[] = []
  const round = async (i: number) => {
    const promote = parseEvent(ev('program.role_assigned', { programId: `p${i}`, userId: 'pa', role: 'program_admin' }))
    const enrol = parseEvent(ev('program.role_assigned', { programId: `p${i}`, userId: 'pa', role: 'participant' }, 'user:tu'))
    const [promoted, enrolled] = await Promise.allSettled([translateEvent(deps, promote), translateEvent(deps, enrol)])
    if (promoted.status === 'rejected') return void failures.push(`round ${i}: the promotion failed: ${promoted.reason}`)
    if (enrolled.status === 'rejected' && (enrolled.reason as { statusCode?: number }).statusCode !== 403) failures.push(`round ${i}: ${enrolled.reason}`)
    if (!(await can(app, `program:p${i}`, 'edit_content', 'user:pa'))) demoted++
  }
  // 25 rounds at a time: enough overlap to race, without drowning a small machine
  for (let i = 0; i < ROUNDS; i += 25) await Promise.all(Array.from({ length: Math.min(25, ROUNDS - i) }, (_, k) => round(i + k)))
  t.same(failures, [], 'every promotion applied; the enrolment applied or refused with 403')
  t.comment(`${demoted} of ${ROUNDS} program admins demoted by the tutor`)
  t.equal(demoted, 0, 'the promotion always stands')
})

t.test('set-replacing events: taking away is governed like giving, so an actor who may not give may not take either', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(
    t,
    app,
    ev('organization.privileges_set', { organizationId: 'acme', userId: 'cara', privileges: ['view_all_clients'] }),
    ev('organization.coaching_permissions_set', { organizationId: 'acme', userId: 'cara', permissions: ['schedules_own'] }),
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'tina', role: 'tutor' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'fay', role: 'facilitator' }),
    ev('program.grants_set', { programId: 'p1', userId: 'fay', grants: ['view_class_list'] }),
    ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob' }),
    ev('pairing.set', { clientId: 'c1', coachId: 'cara', level: 'coaching' }),
    ev('organization.member_added', { organizationId: 'acme', userId: 'mo', role: 'member' }),
  )
  // rob is a coach: he may neither give nor take privileges, permissions, pairings or roles.
  await forbiddenAndUnchanged(t, app, ev('organization.privileges_set', { organizationId: 'acme', userId: 'cara', privileges: [] }, 'user:rob'), [
    ['organization:acme', 'can_view_all_clients', 'user:cara'],
  ])
  await forbiddenAndUnchanged(t, app, ev('organization.coaching_permissions_set', { organizationId: 'acme', userId: 'cara', permissions: [] }, 'user:rob'), [
    ['organization:acme', 'internal_schedules_own', 'user:cara'],
  ])
  await forbiddenAndUnchanged(t, app, ev('pairing.set', { clientId: 'c1', coachId: 'cara', level: 'view_only' }, 'user:rob'), [
    ['client:c1', 'coach', 'user:cara'],
  ])
  await forbiddenAndUnchanged(t, app, ev('organization.member_role_changed', { organizationId: 'acme', userId: 'mo', role: 'coach' }, 'user:rob'), [
    ['organization:acme', 'internal_member', 'user:mo'],
  ])
  // tina (tutor) enrols, but grants are the coordinators' to give and to take.
  await forbiddenAndUnchanged(t, app, ev('program.grants_set', { programId: 'p1', userId: 'fay', grants: [] }, 'user:tina'), [
    ['program:p1', 'view_class_list', 'user:fay'],
  ])
  // The holders of the governing permission may.
  await apply(t, app, ev('organization.privileges_set', { organizationId: 'acme', userId: 'cara', privileges: [] }, 'user:adam'))
  await apply(t, app, ev('program.grants_set', { programId: 'p1', userId: 'fay', grants: [] }, 'user:adam'))
})
