/**
 * Keys as an attacker and an operator meet them: scopes that depend on the body (events
 * without an actor, deletes by type alone), key names, rate limits on failed authentication
 * and per key (in memory and shared through Redis), rotation through API_KEYS_FILE, and
 * configuration errors that name a setting without printing its value.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { createHash, randomInt } from 'node:crypto'
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ConfigError, loadConfig, SECRET_SETTINGS } from '../../src/config.js'
import { buildTestApp, requirePart, type TestApp } from '../helpers/app.js'
import { ev } from '../helpers/events.js'

const key = (name: string) => `${name}-key-0123456789abcdef`
const entry = (name: string, scopes?: string) => `${name}:${key(name)}${scopes ? `:${scopes}` : ''}`
const auth = (name: string) => ({ authorization: `Bearer ${key(name)}` })
const sha = (s: string) => createHash('sha256').update(s).digest('hex')
const check = { resource: 'program:p1', permission: 'run', subject: 'user:ana' }
const events = (app: TestApp, who: string, payload: object) => app.inject({ method: 'POST', url: '/v1/events', headers: auth(who), payload })

t.test('an event without an actor needs platform; the 403 names the event; nothing is applied', async (t) => {
  const app = await buildTestApp(t, { overrides: { apiKeys: [entry('plat', 'platform'), entry('app', 'events'), entry('full')] } })
  const created = ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' })
  const single = await events(app, 'app', created)
  t.equal(single.statusCode, 403)
  t.match(single.json(), { code: 'GW_MISSING_SCOPE', message: /key app lacks the scope platform, needed for the event has no actor/ })
  t.equal((await events(app, 'plat', created)).statusCode, 200, 'the platform sends it')

  const batch = [
    ev('organization.member_added', { organizationId: 'acme', userId: 'rob', role: 'coach' }, 'user:olivia'),
    ev('organization.member_added', { organizationId: 'acme', userId: 'cara', role: 'coach' }),
  ]
  const mixed = await events(app, 'app', { events: batch })
  t.equal(mixed.statusCode, 403)
  t.match(mixed.json().message, /events\[1\] has no actor/)
  const again = await events(app, 'full', { events: batch })
  t.same(
    again.json().results.map((r: { status: string }) => r.status),
    ['applied', 'applied'],
    'the refused batch applied nothing',
  )

  const withActor = await events(app, 'app', ev('organization.member_added', { organizationId: 'acme', userId: 'alex', role: 'author' }, 'user:olivia'))
  t.equal(withActor.statusCode, 200, 'an event with an actor needs only events')
  const platformWithActor = await events(app, 'plat', ev('organization.member_added', { organizationId: 'acme', userId: 'fay', role: 'coach' }, 'user:olivia'))
  t.equal(platformWithActor.statusCode, 200, 'platform covers events with an actor too')
  t.equal((await events(app, 'app', { events: 'nope' })).statusCode, 400, 'a body that is no event is a 400, not a 403')
})

t.test('a delete that names no object needs admin; the filter is checked before anything is deleted', async (t) => {
  const app = await buildTestApp(t, { overrides: { apiKeys: [entry('plat', 'platform'), entry('ops', 'write+audit'), entry('root', 'write+admin+audit')] } })
  await events(app, 'plat', ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' }))
  for (const c of ['c1', 'c2']) await events(app, 'plat', ev('client.created', { clientId: c, organizationId: 'acme', primaryCoachId: 'olivia' }))
  const clients = async () =>
    (await app.inject({ method: 'GET', url: '/v1/relationships?resourceType=client', headers: auth('root') })).json().relationships.length
  const before = await clients()
  t.ok(before >= 4)
  for (const filter of [{ resourceType: 'client' }, { resourceType: 'client', relation: 'organization' }]) {
    const res = await app.inject({ method: 'DELETE', url: '/v1/relationships', headers: auth('ops'), payload: { filter } })
    t.equal(res.statusCode, 403, JSON.stringify(filter))
    t.match(res.json(), { code: 'GW_MISSING_SCOPE', message: /lacks the scope admin, needed for a delete by type alone/ })
  }
  t.equal(await clients(), before, 'nothing was deleted')
  const one = await app.inject({ method: 'DELETE', url: '/v1/relationships', headers: auth('ops'), payload: { filter: { resource: 'client:c2' } } })
  t.not(one.json().code, 'GW_MISSING_SCOPE', 'a delete that names its object needs write only')
  const all = await app.inject({ method: 'DELETE', url: '/v1/relationships', headers: auth('root'), payload: { filter: { resourceType: 'client' } } })
  t.equal(all.statusCode, 200, 'admin may delete by type')
  t.equal(await clients(), 0)
})

t.test('500 wrong keys in a burst from one address: 429s with retry-after; other addresses unaffected', async (t) => {
  const app = await buildTestApp(t, { overrides: { apiKeys: [entry('app', 'check')] } })
  const burst = await Promise.all(
    Array.from({ length: 500 }, (_, i) =>
      app.inject({
        method: 'POST',
        url: '/v1/check',
        payload: check,
        remoteAddress: '10.9.0.1',
        headers: { authorization: `Bearer guess-${i}-0123456789abcdef` },
      }),
    ),
  )
  const limited = burst.filter((r) => r.statusCode === 429)
  const allowed = app.config.rateLimit.authFailures
  t.ok(allowed > 0 && allowed < 500, `the default allows ${allowed} failures a window`)
  t.equal(burst.filter((r) => r.statusCode === 401).length, allowed, `the first ${allowed} answered 401`)
  t.equal(limited.length, 500 - allowed, `${limited.length} of 500 answered 429`)
  t.match(limited[0]!.json(), { statusCode: 429, code: 'GW_RATE_LIMITED', error: 'Too Many Requests', message: /failed authentications/ })
  t.ok(Number(limited[0]!.headers['retry-after']) >= 1, 'retry-after in seconds')

  const elsewhere = await app.inject({ method: 'POST', url: '/v1/check', payload: check, remoteAddress: '10.9.0.2', headers: auth('app') })
  t.equal(elsewhere.statusCode, 200, 'a good key from another address is served')
  const same = await app.inject({ method: 'POST', url: '/v1/check', payload: check, remoteAddress: '10.9.0.1', headers: auth('app') })
  t.equal(same.statusCode, 429, 'the guessing address learns nothing, even with a good key')
  t.equal((await app.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.9.0.1' })).statusCode, 200, 'probes stay open')
})

t.test('requests per key: over the limit that key gets 429, named; another key is served', async (t) => {
  const legacy = 'legacy-unnamed-key-0123456789'
  const app = await buildTestApp(t, {
    overrides: { apiKeys: [entry('app', 'check'), entry('other'), legacy], rateLimit: { windowSeconds: 60, authFailures: 300, perKey: 3 } },
  })
  const codes = []
  for (let i = 0; i < 5; i++) codes.push((await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: auth('app') })).statusCode)
  t.same(codes, [200, 200, 200, 429, 429])
  const over = await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: auth('app') })
  t.match(over.json(), { code: 'GW_RATE_LIMITED', message: /key app is over its rate limit/ })
  t.ok(Number(over.headers['retry-after']) >= 1)
  t.equal((await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: auth('other') })).statusCode, 200)
  // a key listed without a name is named after its hash, never after the key itself
  for (let i = 0; i < 4; i++) await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: { authorization: `Bearer ${legacy}` } })
  const named = await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: { authorization: `Bearer ${legacy}` } })
  t.match(named.json().message, new RegExp(`key key-${sha(legacy).slice(0, 12)} is over`))
})

t.test('with Redis, replicas share the counters', async (t) => {
  const url = process.env.TEST_REDIS_URL
  if (!requirePart(t, 'Redis (TEST_REDIS_URL)', Boolean(url))) return
  const name = `k${randomInt(1e9)}`
  const rateLimit = { windowSeconds: 60, authFailures: 20, perKey: 5 }
  const replica = () => buildTestApp(t, { overrides: { apiKeys: [entry(name)], redisUrl: url, rateLimit } })
  const [a, b] = [await replica(), await replica()]
  const ip = `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`
  const wrong = (app: TestApp) =>
    app.inject({ method: 'POST', url: '/v1/check', payload: check, remoteAddress: ip, headers: { authorization: 'Bearer wrong-0123456789abcdef' } })
  const onA = []
  for (let i = 0; i < 15; i++) onA.push((await wrong(a)).statusCode)
  const onB = []
  for (let i = 0; i < 10; i++) onB.push((await wrong(b)).statusCode)
  t.same(onA, Array(15).fill(401))
  t.same(onB, [...Array(5).fill(401), ...Array(5).fill(429)], 'B counts the failures A saw')
  const good = async (app: TestApp) => (await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: auth(name) })).statusCode
  t.same([await good(a), await good(a), await good(a), await good(b), await good(b), await good(b)], [200, 200, 200, 200, 200, 429])

  // Redis gone: the rate limiter does not make a check wait on it, and this replica's own
  // counters still limit. (A default check needs Redis for read-your-writes, where the write
  // tokens live, and answers 503 without it: fail closed. `minimize_latency` reads no tokens.)
  const c = await buildTestApp(t, { overrides: { apiKeys: [entry(`${name}c`)], redisUrl: url, rateLimit: { ...rateLimit, perKey: 1000 } } })
  c.redis!.disconnect()
  const started = Date.now()
  const fast = { ...check, consistency: { mode: 'minimize_latency' } }
  const served = await c.inject({ method: 'POST', url: '/v1/check', payload: fast, headers: auth(`${name}c`) })
  t.equal(served.statusCode, 200, served.body)
  const closed = await c.inject({ method: 'POST', url: '/v1/check', payload: check, headers: auth(`${name}c`) })
  t.equal(closed.statusCode, 503, 'a default check without its write tokens fails closed')
  t.ok(Date.now() - started < 2000, `served in ${Date.now() - started} ms without Redis`)
  const local = []
  for (let i = 0; i < 25; i++) local.push((await wrong(c)).statusCode)
  t.same(local, [...Array(20).fill(401), ...Array(5).fill(429)], 'failures counted in the process while Redis is away')
})

t.test('API_KEYS_FILE: hashes only, several keys at once, rotation without a restart', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-keys-'))
  const file = path.join(dir, 'keys')
  // written the way operators and Kubernetes replace files: a new file renamed over the old
  const write = (text: string) => {
    writeFileSync(`${file}.new`, text)
    renameSync(`${file}.new`, file)
  }
  const [oldKey, newKey] = ['old-secret-0123456789abcdef', 'new-secret-0123456789abcdef']
  write(`# name scopes sha256\nbilling check ${sha(oldKey)}\n`)
  const app = await buildTestApp(t, { overrides: { apiKeys: [], apiKeysFile: file } })
  const status = async (k: string) =>
    (await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: { authorization: `Bearer ${k}` } })).statusCode
  t.same([await status(oldKey), await status(newKey)], [200, 401])
  t.equal((await app.inject({ method: 'GET', url: '/v1/schema', headers: { authorization: `Bearer ${oldKey}` } })).statusCode, 403, 'scopes from the file')

  write(`billing check ${sha(oldKey)}\nbilling check sha256:${sha(newKey)}\n`)
  process.kill(process.pid, 'SIGHUP')
  await sleep(100)
  t.same([await status(oldKey), await status(newKey)], [200, 200], 'SIGHUP: old and new valid together')

  write(`billing check ${sha(newKey)}\n`)
  const deadline = Date.now() + 8000
  while ((await status(oldKey)) !== 401 && Date.now() < deadline) await sleep(200)
  t.same([await status(oldKey), await status(newKey)], [401, 200], 'a changed file is noticed without a signal')

  write(`billing check not-a-hash ${newKey}\n`)
  process.kill(process.pid, 'SIGHUP')
  await sleep(100)
  t.equal(await status(newKey), 200, 'a file that no longer parses keeps the keys in force')
})

const MARK = 'Sup3rSecretValue'

t.test('a bad setting is named, its value never printed', async (t) => {
  const cases: [string, string][] = [
    ['API_KEYS', `has space ${MARK}0123456789`],
    ['API_KEYS', `app:${MARK}0123456789:check+nosuchscope`],
    ['API_KEYS', `bad!name:${MARK}0123456789`],
    ['API_KEYS', `a:b:c:${MARK}0123456789`],
    ['API_KEYS', `x:${MARK}0123456789,y:${MARK}0123456789`],
    ['API_KEYS', `x:${MARK.slice(0, 12)}`], // too short to be a key
    ['REDIS_URL', `http://user:${MARK}@redis:6379`],
    ['SPICEDB_ENDPOINT', `a b ${MARK}`],
    ['LOG_LEVEL', MARK],
    ['PORT', MARK],
    ['METRICS_PUBLIC', MARK],
    ['RATE_LIMIT_PER_KEY', MARK],
    ['TRUST_PROXY', `${MARK}!`],
  ]
  for (const [name, value] of cases) {
    const err = (() => {
      try {
        loadConfig({ [name]: value })
      } catch (e) {
        return e as Error
      }
    })()
    t.ok(err instanceof ConfigError, `${name} refused`)
    t.match(err?.message, new RegExp(`invalid setting ${name}\\b`), err?.message ?? 'no error')
    t.notMatch(err?.message, MARK.slice(0, 12), `${name}: the value is not printed`)
  }
  t.ok(SECRET_SETTINGS.includes('API_KEYS') && SECRET_SETTINGS.includes('REDIS_URL'))
})

t.test('API_KEYS_FILE errors name the line, not its content', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-keys-'))
  const file = path.join(dir, 'keys')
  writeFileSync(file, `ok check ${sha('x')}\nbilling check ${MARK}\n`)
  const refusal = (apiKeysFile: string) =>
    buildTestApp(t, { overrides: { apiKeysFile } }).then(
      () => undefined,
      (err: Error) => err,
    )
  const bad = await refusal(file)
  t.ok(bad instanceof ConfigError)
  t.match(bad?.message, /invalid setting API_KEYS_FILE line 2: the third field must be a SHA-256/)
  t.notMatch(bad?.message, MARK)
  t.match((await refusal(path.join(dir, 'missing')))?.message, /invalid setting API_KEYS_FILE: cannot read it \(ENOENT\)/)
})

t.test('the server refuses a bad API_KEYS, naming it without printing it', async (t) => {
  const tsx = path.resolve(import.meta.dirname, '../../node_modules/.bin/tsx')
  const server = path.resolve(import.meta.dirname, '../../src/server.ts')
  const r = spawnSync(tsx, [server], { env: { ...process.env, API_KEYS: `app:${MARK}0123456789:nosuch` }, encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 1)
  t.match(r.stderr, /invalid setting API_KEYS entry 1: unknown or empty scope/)
  t.notMatch(r.stderr + r.stdout, MARK)
})
