/**
 * Onboarding and backup (issue 22), the round trip at the Done-when's size: a business of 1,000
 * organizations made by events, exported, imported into a fresh gateway and exported again gives
 * the same relationships (caveats included), and 10,000 sampled checks answer the same on both.
 * TRELLIS_TEST_ENGINE=remote runs it on `spicedb serve` over Postgres.
 */
import t from 'tap'
import { buildTestApp, type TestApp } from '../../helpers/app.js'
import { business, bulkCheck, check, exportBody, importBody, relationshipsOf, sampledChecks, seed } from '../../helpers/onboarding.js'

// Seeding 11,000 events takes most of this file's time: ~70 s embedded, ~170 s on `spicedb serve`
// over Postgres on a busy 2-core machine, so the file gets more than .taprc's 300 s.
t.setTimeout(900_000)

const ROUND_TRIP_ORGS = 1000
const SAMPLED_CHECKS = 10_000

t.test('round trip: export, import into a fresh gateway, export again', async (t) => {
  const a = await buildTestApp(t)
  let t0 = performance.now()
  await seed(a, business(ROUND_TRIP_ORGS))
  t.comment(`seeded ${ROUND_TRIP_ORGS} organizations by events in ${Math.round(performance.now() - t0)} ms`)
  const first = await exportBody(a)
  t.equal(first.status, 200)
  t.match(first.type, /application\/x-ndjson/)
  const end = JSON.parse(first.lines.at(-1)!)
  t.equal(end.count, first.lines.length - 1, 'the end line counts the lines')
  t.ok(end.exportedAt)
  t.notOk(
    first.lines.some((l) => l.includes('internal_')),
    'no internal guard relationships',
  )

  t.ok(
    first.lines.some((l) => l.includes('"caveat":{"name":"release_time"')),
    'caveats are exported',
  )
  t.ok(end.count > ROUND_TRIP_ORGS * 20, `${end.count} relationships`)

  const b = await buildTestApp(t)
  t0 = performance.now()
  const res = await importBody(b, first.lines.join('\n') + '\n')
  t.comment(`imported ${end.count} relationships in ${Math.round(performance.now() - t0)} ms`)
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), { count: end.count, changed: end.count })
  const second = await exportBody(b)
  t.same(relationshipsOf(second.lines), relationshipsOf(first.lines), 'the same relationships')
  const sample = sampledChecks(ROUND_TRIP_ORGS, SAMPLED_CHECKS)
  const [answersA, answersB] = [await bulkCheck(a, sample), await bulkCheck(b, sample)]
  const differ = sample.filter((_, i) => answersA[i] !== answersB[i])
  t.same(differ, [], `${SAMPLED_CHECKS} sampled checks answer the same on both`)
  const tally = (answer: string) => answersA.filter((x) => x === answer).length
  t.ok(tally('has_permission') > 1000 && tally('no_permission') > 1000, `a sample of both answers (${tally('has_permission')} allowed)`)
  t.equal(
    answersA.find((x) => x.startsWith('error')),
    undefined,
    'no check failed',
  )
  for (const [resource, permission, subject] of [
    ['client:o3-c1', 'view', 'user:o3-k1'],
    ['client:o3-c1', 'view', 'user:o4-k1'],
    ['organization:o2', 'manage_admin_privileges', 'user:o2-owner'],
    ['client:o0-c0', 'delete', 'user:o0-k0'],
  ] as const) {
    t.equal(await check(b, resource, permission, subject), await check(a, resource, permission, subject), `${resource} ${permission} ${subject}`)
  }

  // into a live engine: a merge that says what changed
  const again = await importBody(b, [...first.lines.slice(0, -1), '{"relationship":"organization:o1#coach@user:newbie"}'].join('\n'))
  t.equal(again.statusCode, 200, again.body)
  t.match(again.json(), { count: end.count + 1, changed: 1 })

  const filtered = await lines(a, '/v1/export?types=organization')
  t.ok(filtered.every((l) => l.startsWith('{"relationship":"organization:') || l.startsWith('{"exportedAt"')))
  t.equal((await a.inject({ method: 'GET', url: '/v1/export?types=internal_guard' })).statusCode, 400)
})

async function lines(a: TestApp, url: string) {
  return (await a.inject({ method: 'GET', url })).body.trim().split('\n')
}
