/**
 * How the explorer draws a path (public/explorer/chains.js, the module the browser loads):
 * the objects a path passes through, the relationship that grants it at its end, and how the
 * access is held. The paths are the API's own shapes (see test/domain/questions/queries.test.ts).
 */
import t from 'tap'

type Token = { kind: string; text: string }
const { chainOf, chainText, howOf } = (await import('../../../public/explorer/chains.js' as string)) as {
  chainOf: (resource: string, path: string[]) => Token[]
  chainText: (tokens: Token[]) => string
  howOf: (tokens: Token[]) => string
}
const draw = (resource: string, path: string[]) => {
  const tokens = chainOf(resource, path)
  return [chainText(tokens), howOf(tokens)]
}

t.test('a relationship on the object itself', async (t) => {
  t.same(draw('client:c1', ['client:c1#view', 'client:c1#view_only@user:jeannine']), ['client:c1 -> view_only -> user:jeannine', 'direct'])
})

t.test('through the organization, with or without the link step', async (t) => {
  const chain = 'client:c1 -> organization:acme -> view_all_clients -> user:vic'
  t.same(draw('client:c1', ['client:c1#view', 'client:c1#view', 'organization:acme#can_view_all_clients', 'organization:acme#view_all_clients@user:vic']), [
    chain,
    'organization',
  ])
  t.same(
    draw('client:c1', [
      'client:c1#view',
      'client:c1#organization@organization:acme',
      'organization:acme#can_view_all_clients',
      'organization:acme#view_all_clients@user:vic',
    ]),
    ['client:c1 -> organization -> organization:acme -> view_all_clients -> user:vic', 'organization'],
    'a link to the organization is drawn as a relationship on the way',
  )
})

t.test('through a program or group, and through a subject set', async (t) => {
  t.same(draw('program:p1', ['program:p1#view_stats', 'group:north#internal_coach', 'group:north#coach@user:cara']), [
    'program:p1 -> group:north -> coach -> user:cara',
    'programOrGroup',
  ])
  t.same(draw('program:p1', ['program:p1#view', 'program:p1#participant@group:g1#member', 'group:g1#member@user:ana']), [
    'program:p1 -> participant -> group:g1 -> member -> user:ana',
    'programOrGroup',
  ])
  t.same(draw('section:s1', ['section:s1#view', 'program:p1#view_locked_content', 'program:p1#facilitator@user:fay']), [
    'section:s1 -> program:p1 -> facilitator -> user:fay',
    'programOrGroup',
  ])
})

t.test('intersections and caveats stay visible', async (t) => {
  t.same(draw('client:c1', ['client:c1#schedule_appointment', 'client:c1#primary@user:rob', 'and organization:acme#schedules_own@user:rob']), [
    'client:c1 -> primary -> user:rob, and organization:acme#schedules_own@user:rob',
    'direct',
  ])
  t.same(draw('section:s1', ['section:s1#view', 'section:s1#release@program:p1[release_time]', 'program:p1#participant@user:ana']), [
    'section:s1 -> release [release_time] -> program:p1 -> participant -> user:ana',
    'programOrGroup',
  ])
})
