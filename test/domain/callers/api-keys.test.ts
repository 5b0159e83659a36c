/**
 * The key grammar on its own: API_KEYS entries, API_KEYS_FILE lines and the bearer header,
 * table by table. What callers see of it is in security-keys.test.ts.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { ALL_SCOPES, ApiKeyError, bearer, findKey, parseKeyEntries, parseKeyEntry, parseKeyFile } from '../../../src/domain/callers/api-keys.js'

const K = 'k-0123456789abcdef'
const hex = (s: string) => createHash('sha256').update(s).digest('hex')

t.test('API_KEYS entries: key, name:key, name:key:scopes', async (t) => {
  t.match(parseKeyEntry(K, 0), { name: `key-${hex(K).slice(0, 12)}`, scopes: ALL_SCOPES })
  t.match(parseKeyEntry(`web:${K}`, 0), { name: 'web', scopes: ALL_SCOPES })
  t.same([...parseKeyEntry(`web:${K}:check+audit`, 0).scopes], ['check', 'audit'])
  t.same([...parseKeyEntry(`all:${K}:*`, 0).scopes].length, 6)
  for (const [bad, why] of [
    [`web:${K}:`, /scope/],
    [`web:${K}:check+`, /scope/],
    [`web:${K}:Check`, /scope/],
    [`web:short`, /16\+ characters/],
    [`we b:${K}`, /name/],
    [`:${K}`, /name/],
    [`a:${K}:check:x`, /expected key/],
  ] as const) {
    t.throws(() => parseKeyEntry(bad, 2), { name: 'ApiKeyError', message: new RegExp(`^API_KEYS entry 3: .*${why.source}`) }, bad)
  }
  t.throws(() => parseKeyEntries([`a:${K}`, `b:${K}`]), /entries 1 and 2 are the same key/)
})

t.test('API_KEYS_FILE lines: name scopes hash, comments, rotation under one name', async (t) => {
  const keys = parseKeyFile(`# rotation in progress\n\nweb check ${hex('old-0123456789abcdef')}\nweb check sha256:${hex('new-0123456789abcdef')}  # new\n`)
  t.equal(keys.length, 2)
  t.equal(findKey(keys, 'old-0123456789abcdef')?.name, 'web')
  t.equal(findKey(keys, 'new-0123456789abcdef')?.name, 'web')
  t.equal(findKey(keys, 'other-0123456789abcdef'), undefined)
  t.throws(() => parseKeyFile(`web check\n`), { message: /line 1: expected "name scopes sha256-hex"/ })
  t.throws(() => parseKeyFile(`\nweb check ${hex('x').slice(1)}\n`), { message: /line 2: the third field must be a SHA-256/ })
  t.throws(() => parseKeyFile(`web nope ${hex('x')}\n`), ApiKeyError)
})

t.test('bearer: the scheme, case-insensitive, one token', async (t) => {
  t.equal(bearer(`Bearer ${K}`), K)
  t.equal(bearer(`bearer ${K}`), K)
  for (const h of [undefined, '', 'Bearer', 'Bearer ', `Basic ${K}`, `Bearer ${K} extra`, `Bearer\t${K}`, ` Bearer ${K}`])
    t.equal(bearer(h), undefined, JSON.stringify(h))
})
