/**
 * "Changes, newest first" at a real size: with 1,502 writes to one program (a facilitator each) the trail read
 * `order=newest` starts at the newest write (not the 1,000th-oldest), and its cursor reads on
 * towards older writes until every record has been read once.
 */
import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { seed } from '../../helpers/http.js'

t.test('order=newest: the newest of 1,502 writes first, then older pages', async (t) => {
  const app = await buildTestApp(t)
  const written: string[] = []
  for (let i = 0; i < 1502; i++) {
    await seed(app, [`program:p1#facilitator@user:u${i}`])
    written.push(`program:p1#facilitator@user:u${i}`)
  }
  type Page = { records: { id: string; changes: { relationship: string }[] }[]; cursor?: string }
  const read = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/audit?object=program:p1&${query}` })
    t.equal(res.statusCode, 200, res.body.slice(0, 200))
    return res.json() as Page
  }
  const first = await read('order=newest&limit=200')
  t.equal(first.records[0]!.changes[0]!.relationship, written[1501], 'the top row is the newest write of all 1,502')
  t.equal(first.records[199]!.changes[0]!.relationship, written[1302])
  t.ok(first.cursor, 'more follows')
  const seen = [...first.records]
  for (let cursor = first.cursor; cursor;) {
    const page = await read(`order=newest&limit=1000&cursor=${cursor}`)
    seen.push(...page.records)
    cursor = page.cursor
  }
  t.same(
    seen.map((r) => r.changes[0]!.relationship),
    [...written].reverse(),
    'every write once, newest to oldest',
  )
  const ids = seen.map((r) => r.id)
  t.ok(
    ids.every((id, i) => i === 0 || compare(id, ids[i - 1]!) < 0),
    'ids strictly descending',
  )
  const oldest = await read('limit=1')
  t.equal(oldest.records[0]!.changes[0]!.relationship, written[0], 'without order the trail reads oldest first, as before')
  const bad = await app.inject({ method: 'GET', url: '/v1/audit?object=program:p1&order=latest' })
  t.equal(bad.statusCode, 400, 'an unknown order is refused')
  t.match(bad.body, /order/)
})

function compare(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number]
  const [bm, bs] = b.split('-').map(Number) as [number, number]
  return am - bm || as - bs
}
