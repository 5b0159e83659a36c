/** API keys as data (src/domain/callers/api-keys.ts): the two ways they are configured, and finding one. */
import t from 'tap'
import { ALL_SCOPES, findKey, mergeKeys, parseKeyEntries, parseKeyEntry, parseKeyFile, parseScopes, sha256 } from '../../../../src/domain/callers/api-keys.js'

const KEY = 'k'.repeat(16)
const KEY2 = 'another-key-of-enough-length'

t.test('entries: key, name:key, name:key:scopes', async (t) => {
  const bare = parseKeyEntry(KEY, 0)
  t.equal(bare.scopes, ALL_SCOPES)
  t.equal(bare.name, `key-${sha256(KEY).toString('hex').slice(0, 12)}`, 'named after a hash prefix')
  t.same(bare.hash, sha256(KEY), 'only the hash is kept')
  t.notMatch(JSON.stringify({ ...bare, scopes: [...bare.scopes] }), KEY)
  t.match(parseKeyEntry(`ops:${KEY}`, 0), { name: 'ops', scopes: ALL_SCOPES })
  t.same([...parseKeyEntry(`ci:${KEY}:check+audit`, 0).scopes], ['check', 'audit'])
  t.equal(parseKeyEntry(`ci:${KEY}:*`, 0).scopes, ALL_SCOPES)
  t.equal(parseKeyEntry(`ci:${KEY}:all`, 0).scopes, ALL_SCOPES)
})

t.test('bad entries name the entry, never the key', async (t) => {
  const secret = 'Secret-Key-Never-Shown'
  for (const [entry, why] of [
    [secret.slice(0, 10), 'too short'],
    [`a:b:c:${secret}`, 'too many parts'],
    [`bad name:${secret}`, 'a bad name'],
    [`ops:${secret}:check+fly`, 'an unknown scope'],
    [`ops:${secret}:`, 'an empty scope'],
    [`ops:${secret}:check++audit`, 'an empty scope between'],
    [`:${secret}`, 'an empty name'],
  ] as const) {
    t.throws(() => parseKeyEntry(entry, 2), { name: 'ApiKeyError', message: /^API_KEYS entry 3: / }, why)
    try {
      parseKeyEntry(entry, 2)
    } catch (err) {
      t.notMatch((err as Error).message, secret.slice(0, 8), `${why}: the key is not shown`)
    }
  }
  t.throws(() => parseScopes('', 'x'), { message: /unknown or empty scope/ })
})

t.test('one key listed twice is refused, in either source', async (t) => {
  t.throws(() => parseKeyEntries([KEY, `other:${KEY}:check`]), { message: 'API_KEYS entries 1 and 2 are the same key' })
  t.equal(parseKeyEntries([KEY, KEY2]).length, 2)
  const file = `# keys\n\nops check ${sha256(KEY).toString('hex')}\nops check+audit sha256:${sha256(KEY2).toString('hex').toUpperCase()}  # rotation\n`
  const keys = parseKeyFile(file)
  t.same(
    keys.map((k) => k.name),
    ['ops', 'ops'],
    'one name twice: a rotation',
  )
  t.same([...keys[1]!.scopes], ['check', 'audit'])
  t.throws(() => mergeKeys(parseKeyEntries([KEY]), keys), { message: 'API_KEYS and API_KEYS_FILE keys 1 and 2 are the same key' })
  t.throws(() => parseKeyFile(`a check ${sha256(KEY).toString('hex')}\nb audit ${sha256(KEY).toString('hex')}`), { message: /API_KEYS_FILE keys 1 and 2/ })
})

t.test('bad file lines name the line', async (t) => {
  const hex = sha256(KEY).toString('hex')
  t.throws(() => parseKeyFile(`\n\nops check`), { message: /^API_KEYS_FILE line 3: expected "name scopes sha256-hex"/ })
  t.throws(() => parseKeyFile(`ops check ${hex} extra`), { message: /line 1: expected/ })
  t.throws(() => parseKeyFile(`o/p check ${hex}`), { message: /line 1: the name/ })
  t.throws(() => parseKeyFile(`ops check ${hex.slice(1)}`), { message: /line 1: the third field must be a SHA-256/ })
  t.throws(() => parseKeyFile(`ops fly ${hex}`), { message: /line 1: unknown or empty scope/ })
  t.same(parseKeyFile('# nothing\n   \n'), [])
})

t.test('findKey: the key whose hash matches', async (t) => {
  const keys = parseKeyEntries([`a:${KEY}:check`, `b:${KEY2}`])
  t.equal(findKey(keys, KEY)?.name, 'a')
  t.equal(findKey(keys, KEY2)?.name, 'b')
  t.equal(findKey(keys, `${KEY}x`), undefined)
  t.equal(findKey(keys, ''), undefined)
  t.equal(findKey([], KEY), undefined)
})
