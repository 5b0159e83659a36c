import t from 'tap'
import { readFile } from 'node:fs/promises'
import { buildTestApp } from '../../helpers/app.js'
import { apply, can, ev, refused, seedOrg, snapshot } from '../../helpers/events.js'
import { renderGoverningTable } from '../../../src/domain/events/authorize/governing.js'

t.test('an actor without the governing permission is refused with 403 and nothing changes', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(t, app, ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob' }))
  const before = await snapshot(app)
  const pairing = { clientId: 'c1', coachId: 'cara', level: 'primary' }
  const body = await refused(t, app, ev('pairing.set', pairing, 'user:rob'), 403, 'GW_FORBIDDEN')
  t.match(body.message, /manage_pairing/)
  await refused(
    t,
    app,
    ev('organization.privileges_set', { organizationId: 'acme', userId: 'cara', privileges: ['manage_pairings'] }, 'user:rob'),
    403,
    'GW_FORBIDDEN',
  )
  await refused(t, app, ev('organization.ownership_transferred', { organizationId: 'acme', newOwnerId: 'adam' }, 'user:adam'), 403, 'GW_FORBIDDEN')
  await refused(t, app, ev('certificate.awarded', { certificateId: 'z', learnerId: 'mia' }, 'user:olivia'), 403, 'GW_FORBIDDEN')
  await refused(t, app, ev('organization.created', { organizationId: 'new', ownerId: 'zed' }, 'user:rob'), 403, 'GW_FORBIDDEN')
  t.same(await snapshot(app), before)

  await apply(t, app, ev('organization.privileges_set', { organizationId: 'acme', userId: 'rob', privileges: ['manage_pairings'] }, 'user:adam'))
  await apply(t, app, ev('pairing.set', pairing, 'user:rob'))
  t.ok(await can(app, 'client:c1', 'notify', 'user:cara'))
  await apply(t, app, ev('organization.ownership_transferred', { organizationId: 'acme', newOwnerId: 'adam' }, 'user:olivia'))
})

t.test('program roles are governed by the role: enrolment, team members, coordinators', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(
    t,
    app,
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'tina', role: 'tutor' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'pam', role: 'program_admin' }),
  )
  await apply(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'pat', role: 'participant' }, 'user:tina'))
  await refused(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'fay', role: 'facilitator' }, 'user:tina'), 403, 'GW_FORBIDDEN')
  await apply(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'fay', role: 'facilitator' }, 'user:pam'))
  await refused(t, app, ev('program.role_revoked', { programId: 'p1', userId: 'fay' }, 'user:tina'), 403, 'GW_FORBIDDEN')
  await apply(t, app, ev('program.role_revoked', { programId: 'p1', userId: 'pat' }, 'user:tina'))
  await refused(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'x', role: 'program_admin' }, 'user:fay'), 403, 'GW_FORBIDDEN')
  await apply(t, app, ev('program.role_assigned', { programId: 'p1', userId: 'x', role: 'program_admin' }, 'user:adam'))
})

t.test('a permission revoked a moment ago is not used: actor checks are fully consistent', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(t, app, ev('organization.privileges_set', { organizationId: 'acme', userId: 'rob', privileges: ['manage_team_groups'] }))
  await apply(t, app, ev('group.created', { groupId: 'g1', organizationId: 'acme' }, 'user:rob'))
  await apply(t, app, ev('organization.privileges_set', { organizationId: 'acme', userId: 'rob', privileges: [] }))
  await refused(t, app, ev('group.created', { groupId: 'g2', organizationId: 'acme' }, 'user:rob'), 403, 'GW_FORBIDDEN')
})

t.test('docs/events.md shows the governing table as governing.ts defines it', async (t) => {
  const docs = await readFile(new URL('../../../docs/events.md', import.meta.url), 'utf8')
  t.ok(docs.includes(renderGoverningTable()), 'regenerate the table in docs/events.md from renderGoverningTable()')
})

t.test('an unauthorized actor learns nothing from invariants: 403 wins over the 409 the event would meet', async (t) => {
  const app = await buildTestApp(t)
  await seedOrg(t, app)
  await apply(t, app, ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob' }))
  const before = await snapshot(app)
  // Demoting the only primary breaks I1 (409 GW_PRIMARY_REQUIRED) for an authorized actor...
  await refused(t, app, ev('pairing.set', { clientId: 'c1', coachId: 'rob', level: 'none' }), 409, 'GW_PRIMARY_REQUIRED')
  // ...but rob may not manage pairings, so he only ever hears 403.
  for (let i = 0; i < 5; i++) {
    await refused(t, app, ev('pairing.set', { clientId: 'c1', coachId: 'rob', level: 'none' }, 'user:rob'), 403, 'GW_FORBIDDEN')
  }
  t.same(await snapshot(app), before, 'nothing changed')
})
