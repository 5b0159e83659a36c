/** The one CSV writer (src/domain/wire/csv.ts): RFC 4180 quoting and OWASP's formula rule. */
import t from 'tap'
import { csvCell, toCsv } from '../../../../src/domain/wire/csv.js'

t.test('plain cells stay as they are', async (t) => {
  for (const v of ['', 'abc', 'user:ana', 'a b', '1+1', "it's"]) t.equal(csvCell(v), v, JSON.stringify(v))
})

t.test('quoting: comma, quote, newline', async (t) => {
  t.equal(csvCell('a,b'), '"a,b"')
  t.equal(csvCell('say "hi"'), '"say ""hi"""')
  t.equal(csvCell('a\nb'), '"a\nb"')
  t.equal(csvCell('a\rb'), '"a\rb"')
})

t.test('a cell a spreadsheet would run is made text and quoted', async (t) => {
  t.equal(csvCell('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`)
  t.equal(csvCell('+cmd|x'), `"'+cmd|x"`)
  t.equal(csvCell('-2'), `"'-2"`)
  t.equal(csvCell('@SUM(A1)'), `"'@SUM(A1)"`)
  t.equal(csvCell('\tx'), `"'\tx"`)
  t.equal(csvCell('\rx'), `"'\rx"`)
  t.equal(csvCell('a=b'), 'a=b', 'only at the start')
})

t.test('rows', async (t) => {
  t.equal(
    toCsv([
      ['a', 'b'],
      ['=1', 'c,d'],
    ]),
    `a,b\n"'=1","c,d"\n`,
  )
  t.equal(toCsv([]), '\n')
  t.equal(toCsv([[]]), '\n')
})
