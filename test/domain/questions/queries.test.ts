import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { allowed, post, seed } from '../../helpers/http.js'

const ORG = [
  'organization:acme#owner@user:olga',
  'organization:acme#admin@user:al',
  'organization:acme#coach@user:rob',
  'organization:acme#coach@user:john',
  // a coach, so she can be paired (I5); her pairing gives view only
  'organization:acme#coach@user:jeannine',
  'organization:acme#view_all_clients@user:vic',
  'client:c1#organization@organization:acme',
  'client:c1#primary@user:rob',
  'client:c1#coaching@user:john',
  'client:c1#view_only@user:jeannine',
  'client:c1#account@user:cassandra',
  'client:c2#organization@organization:acme',
  'client:c2#primary@user:john',
]

t.test('lookup resources pages with limit and cursor', async (t) => {
  const app = await buildTestApp(t)
  await seed(
    app,
    Array.from({ length: 7 }, (_, i) => `program:p${i}#facilitator@user:ana`),
  )
  const seen: string[] = []
  let cursor: string | undefined
  for (let page = 0; page < 10; page++) {
    const res = await post(app, '/v1/lookup/resources', { resourceType: 'program', permission: 'run', subject: 'user:ana', limit: 3, cursor })
    t.equal(res.status, 200)
    seen.push(...res.body.resources.map((r: { id: string }) => r.id))
    cursor = res.body.cursor
    if (!cursor) break
  }
  t.same(seen.sort(), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6'], 'every program exactly once across pages')
})

t.test('explain gives every granting path, or what was tried', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, [...ORG, 'organization:acme#coach_all_clients@user:rob'])
  const yes = await post(app, '/v1/explain', { resource: 'client:c1', permission: 'view', subject: 'user:rob' })
  t.equal(yes.status, 200)
  t.equal(yes.body.allowed, true)
  const ends = yes.body.paths.map((p: string[]) => p.at(-1)).sort()
  t.same(ends, ['client:c1#primary@user:rob', 'organization:acme#coach_all_clients@user:rob'], 'both the pairing and the privilege')
  const no = await post(app, '/v1/explain', { resource: 'client:c2', permission: 'coach', subject: 'user:jeannine' })
  t.equal(no.body.allowed, false)
  t.same(no.body.paths, [])
  t.ok(
    no.body.tried.some((a: { relation: string }) => a.relation === 'client:c2#primary'),
    'lists the relations it tried',
  )
})

t.test('access report lists holders with paths, as JSON and CSV', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, ORG)
  const res = await app.inject({ method: 'GET', url: '/v1/access-report?resource=client:c1&permission=view' })
  t.equal(res.statusCode, 200)
  const report = res.json()
  t.same(
    report.subjects.map((s: { subject: string }) => s.subject),
    ['user:al', 'user:cassandra', 'user:jeannine', 'user:john', 'user:olga', 'user:rob', 'user:vic'],
  )
  const vic = report.subjects.find((s: { subject: string }) => s.subject === 'user:vic')
  t.same(
    vic.via.map((p: string[]) => p.at(-1)),
    ['organization:acme#view_all_clients@user:vic'],
  )
  const jeannine = report.subjects.find((s: { subject: string }) => s.subject === 'user:jeannine')
  t.same(jeannine.via, [['client:c1#view', 'client:c1#view_only@user:jeannine']], 'a path starts at the asked permission')
  const csv = await app.inject({ method: 'GET', url: '/v1/access-report?resource=client:c1&permission=view&format=csv' })
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-type'], /text\/csv/)
  const lines = csv.body.trim().split('\n')
  t.equal(lines[0], 'subject,permissionship,path')
  t.ok(lines.some((l) => l.startsWith('user:vic,has_permission,') && l.endsWith('organization:acme#view_all_clients@user:vic')))
  const bad = await app.inject({ method: 'GET', url: '/v1/access-report?resource=client&permission=view' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().field, 'querystring.resource')
})

t.test('oversized bodies answer 413 and change nothing', async (t) => {
  const app = await buildTestApp(t)
  const huge = { updates: [{ operation: 'touch', relationship: `client:c1#primary@user:${'x'.repeat(1024)}` }], pad: 'y'.repeat(2 * 1024 * 1024) }
  const res = await app.inject({ method: 'POST', url: '/v1/relationships', payload: huge })
  t.equal(res.statusCode, 413)
  t.equal(res.json().code, 'GW_PAYLOAD_TOO_LARGE')
  const read = await app.inject({ method: 'GET', url: '/v1/relationships?resource=client:c1' })
  t.same(read.json().relationships, [])
})

t.test('relationships: read by filter, preconditions, delete by filter', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, ORG)
  const page1 = (await app.inject({ method: 'GET', url: '/v1/relationships?resource=client:c1&limit=2' })).json()
  t.equal(page1.relationships.length, 2)
  t.ok(page1.cursor, 'a full page carries a cursor')
  const page2 = (await app.inject({ method: 'GET', url: `/v1/relationships?resource=client:c1&limit=2&cursor=${encodeURIComponent(page1.cursor)}` })).json()
  t.equal(page2.relationships.length, 2)
  t.same(
    page1.relationships.filter((r: string) => page2.relationships.includes(r)),
    [],
    'pages do not repeat',
  )
  const badLimit = await app.inject({ method: 'GET', url: '/v1/relationships?resource=client:c1&limit=0' })
  t.equal(badLimit.statusCode, 400)
  t.equal(badLimit.json().field, 'querystring.limit')
  const read = await app.inject({ method: 'GET', url: '/v1/relationships?resource=client:c1&relation=primary' })
  t.same(read.json().relationships, ['client:c1#primary@user:rob'])
  const bySubject = await app.inject({ method: 'GET', url: '/v1/relationships?resourceType=client&subject=user:john' })
  t.same(bySubject.json().relationships.sort(), ['client:c1#coaching@user:john', 'client:c2#primary@user:john'])

  const guarded = await post(app, '/v1/relationships', {
    // a valid replacement of the primary (I1), refused by the caller's own precondition
    updates: [
      { operation: 'delete', relationship: 'client:c1#primary@user:rob' },
      { operation: 'touch', relationship: 'client:c1#primary@user:john' },
    ],
    preconditions: [{ operation: 'must_not_match', filter: { resource: 'client:c1', relation: 'primary' } }],
  })
  t.equal(guarded.status, 409, 'a failing precondition refuses the write')
  t.equal(guarded.body.code, 'GW_PRECONDITION_FAILED')
  t.equal(await allowed(app, 'client:c1', 'notify', 'user:john'), false, 'and nothing changed')

  const badRel = await post(app, '/v1/relationships', { updates: [{ operation: 'touch', relationship: 'client:c1#primary' }] })
  t.equal(badRel.status, 400)
  t.equal(badRel.body.field, 'updates.0.relationship')

  const del = await app.inject({ method: 'DELETE', url: '/v1/relationships', payload: { filter: { resourceType: 'client', resourceId: 'c1' } } })
  t.equal(del.statusCode, 200)
  t.equal(del.json().count, 5)
  t.equal(await allowed(app, 'client:c1', 'view', 'user:rob'), false)
  t.equal(await allowed(app, 'client:c2', 'view', 'user:john'), true, 'other clients untouched')
})

t.test('lookups, expand, explain and the access report agree with check', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, [
    ...ORG,
    'organization:acme#schedules_own@user:rob',
    'organization:acme#schedules_own@user:al',
    'organization:acme#program@program:p1',
    'program:p1#organization@organization:acme',
    'program:p1#facilitator@user:fay',
    'program:p1#participant@user:pat',
    'program:p1#sponsor@user:spo',
    'program:p1#tutor@user:tut',
    'program:p1#grant_view_class_list@user:gus',
    'program:p1#grant_access_transcript@user:gus',
    'program:p1#grant_access_transcript@user:tut',
    'group:g1#organization@organization:acme',
    'group:g1#coach@user:gina',
    'program:p1#assigned_group@group:g1',
  ])
  const users = ['olga', 'al', 'rob', 'john', 'vic', 'jeannine', 'cassandra', 'fay', 'pat', 'spo', 'tut', 'gus', 'gina', 'nobody']
  const cases: [string, string][] = [
    ['client:c1', 'view'],
    ['client:c1', 'coach'],
    ['client:c1', 'schedule_appointment'],
    ['client:c2', 'delete'],
    ['program:p1', 'view'],
    ['program:p1', 'access_transcript'],
    ['program:p1', 'view_stats'],
    ['organization:acme', 'seat'],
  ]
  for (const [resource, permission] of cases) {
    const byCheck = new Set<string>()
    for (const u of users) if (await allowed(app, resource, permission, `user:${u}`)) byCheck.add(`user:${u}`)

    const subjects = await post(app, '/v1/lookup/subjects', { resource, permission, subjectType: 'user' })
    t.same(
      subjects.body.subjects.map((s: { id: string }) => `user:${s.id}`).sort(),
      [...byCheck].sort(),
      `lookup subjects = check for ${resource}#${permission}`,
    )

    const report = (await app.inject({ method: 'GET', url: `/v1/access-report?resource=${resource}&permission=${permission}` })).json()
    t.same(report.subjects.map((s: { subject: string }) => s.subject).sort(), [...byCheck].sort(), `access report = check for ${resource}#${permission}`)
    for (const s of report.subjects) t.ok(s.via.length > 0, `${s.subject} has a path to ${resource}#${permission}`)

    const [type] = resource.split(':')
    for (const u of users) {
      const subject = `user:${u}`
      const ex = await post(app, '/v1/explain', { resource, permission, subject })
      t.equal(ex.body.allowed, byCheck.has(subject), `explain = check for ${subject} on ${resource}#${permission}`)
      t.equal(ex.body.paths.length > 0, byCheck.has(subject), `explain has paths iff allowed (${subject})`)
      const found = await post(app, '/v1/lookup/resources', { resourceType: type, permission, subject })
      const ids = found.body.resources.map((r: { id: string }) => `${type}:${r.id}`)
      t.equal(ids.includes(resource), byCheck.has(subject), `lookup resources = check for ${subject} on ${resource}#${permission}`)
    }

    const tree = await post(app, '/v1/expand', { resource, permission })
    t.equal(tree.status, 200)
    const text = JSON.stringify(tree.body.tree)
    for (const s of byCheck) t.ok(text.includes(`"${s}"`), `expand tree shows ${s} for ${resource}#${permission}`)
  }
})

t.test('paths and trees name the link an arrow walks', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, [
    ...ORG,
    'organization:acme#manage_team_clients@user:vic',
    'client:c3#account@user:cy',
    'program:p1#organization@organization:acme',
    'group:g1#coach@user:gina',
    'program:p1#assigned_group@group:g1',
  ])
  const throughAcme = [
    'client:c1#view',
    'client:c1#organization@organization:acme',
    'organization:acme#can_view_all_clients',
    'organization:acme#view_all_clients@user:vic',
  ]
  const report = (await app.inject({ method: 'GET', url: '/v1/access-report?resource=client:c1&permission=view' })).json()
  t.same(report.subjects.find((s: { subject: string }) => s.subject === 'user:vic').via, [throughAcme], 'the report names the client-to-organization link')
  const why = await post(app, '/v1/explain', { resource: 'client:c1', permission: 'view', subject: 'user:vic' })
  t.same(why.body.paths, [throughAcme], 'and so does explain')
  const olga = await post(app, '/v1/explain', { resource: 'client:c1', permission: 'coach', subject: 'user:olga' })
  t.same(olga.body.paths, [
    [
      'client:c1#coach',
      'client:c1#organization@organization:acme',
      'organization:acme#can_coach_all_clients',
      'organization:acme#administer',
      'organization:acme#owner@user:olga',
    ],
  ])
  const manage = await post(app, '/v1/explain', { resource: 'client:c1', permission: 'manage', subject: 'user:vic' })
  t.same(
    manage.body.paths,
    [
      [
        'client:c1#manage',
        'client:c1#organization@organization:acme',
        'organization:acme#can_manage_team_clients',
        'organization:acme#manage_team_clients@user:vic',
      ],
    ],
    'a permission that is a single arrow keeps the asked permission first',
  )
  const gina = await post(app, '/v1/explain', { resource: 'program:p1', permission: 'view_stats', subject: 'user:gina' })
  t.same(
    gina.body.paths,
    [['program:p1#view_stats', 'program:p1#assigned_group@group:g1', 'group:g1#internal_coach', 'group:g1#coach@user:gina']],
    'through a group',
  )

  const tree = (await post(app, '/v1/expand', { resource: 'client:c1', permission: 'view' })).body.tree
  const arrows = tree.children.filter((c: { relation: string }) => c.relation === 'organization')
  t.equal(arrows.length, 2, 'both arrows through the organization (can_view_all_clients, can_coach_all_clients)')
  t.same(
    arrows.map((a: { object: string; subjects: { subject: string; tree: { object: string; relation: string } }[] }) => [
      a.object,
      a.subjects.map((s) => [s.subject, s.tree.object, s.tree.relation]),
    ]),
    [
      ['client:c1', [['organization:acme', 'organization:acme', 'can_view_all_clients']]],
      ['client:c1', [['organization:acme', 'organization:acme', 'can_coach_all_clients']]],
    ],
  )
  t.notOk(JSON.stringify(tree.children).includes('"relation":"view"'), 'no nested client:c1#view stands for an arrow')
  const alone = (await post(app, '/v1/expand', { resource: 'client:c3', permission: 'view' })).body.tree
  t.same(
    alone.children.filter((c: { relation: string }) => c.relation === 'organization'),
    [
      { object: 'client:c3', relation: 'organization', subjects: [] },
      { object: 'client:c3', relation: 'organization', subjects: [] },
    ],
    'a client without an organization: the arrows found nothing',
  )
})
