import t from 'tap'
import { spawnSync } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { writeFileSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ConfigError, EnvSchema, loadConfig } from '../src/config.js'

t.test('defaults: embedded engine on 127.0.0.1:8080', async (t) => {
  const c = loadConfig({})
  t.equal(c.port, 8080)
  t.equal(c.host, '127.0.0.1')
  t.same(c.engine, { kind: 'embedded' })
})

t.test('a bad setting names itself', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), { name: 'ConfigError', message: /PORT/ })
  t.throws(() => loadConfig({ PORT: '70000' }), { message: /PORT/ })
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), { message: /LOG_LEVEL/ })
  t.throws(() => loadConfig({ SPICEDB_ENDPOINT: 'spicedb:50051' }), { message: /SPICEDB_PRESHARED_KEY/ })
  t.throws(() => loadConfig({ REDIS_URL: 'localhost:6379' }), { message: /REDIS_URL/ })
  t.throws(() => loadConfig({ SPICEDB_DATASTORE_ENGINE: 'postgres' }), { message: /SPICEDB_DATASTORE_URI/ })
  t.ok(new ConfigError('x') instanceof Error)
})

t.test('a choice between fixed values names them', async (t) => {
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), { message: 'invalid setting LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent' })
  t.throws(() => loadConfig({ SPICEDB_INSECURE: 'yes' }), { message: 'invalid setting SPICEDB_INSECURE: must be one of true, false' })
  t.throws(() => loadConfig({ SPICEDB_DATASTORE_ENGINE: 'sqlite' }), {
    message: /SPICEDB_DATASTORE_ENGINE: must be one of memory, postgres, cockroachdb, mysql, spanner$/,
  })
  t.throws(() => loadConfig({ PORT: 'eighty' }), { message: 'invalid setting PORT: must be a whole number, digits only' }, 'a number says so')
  t.throws(() => loadConfig({ PORT: '80.5' }), { message: /^invalid setting PORT: must be a whole number/ }, 'never rounded')
  t.throws(
    () => loadConfig({ HOST: '', CURSOR_SECRET: 'short' }),
    { message: 'invalid setting CURSOR_SECRET: must not have fewer than 32 characters' },
    'other problems keep their own words',
  )
})

t.test('several endpoints configure the remote engine', async (t) => {
  const c = loadConfig({ SPICEDB_ENDPOINT: 'a:50051,b:50051', SPICEDB_PRESHARED_KEY: 'k', SPICEDB_INSECURE: 'true', REDIS_URL: 'redis://r:6379' })
  t.same(c.engine, { kind: 'remote', endpoints: ['a:50051', 'b:50051'], presharedKey: 'k', insecure: true })
})

const server = path.resolve(import.meta.dirname, '../src/server.ts')
const tsx = path.resolve(import.meta.dirname, '../node_modules/.bin/tsx')

t.test('the server refuses to start on a bad setting, naming it', async (t) => {
  const r = spawnSync(tsx, [server], { env: { ...process.env, PORT: 'nope' }, encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 1)
  t.match(r.stderr, /invalid setting PORT/)
})

t.test('the server says a port is taken and names PORT, without a stack trace', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => taken.close())
  const port = (taken.address() as AddressInfo).port
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' }
  const r = spawnSync(tsx, [server], { env, encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 1)
  t.match(r.stderr, `trellis: port ${port} on 127.0.0.1 is already in use; set PORT to a free port (PORT=0 picks any)`)
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace')
})

t.test('the server refuses to start with a schema SpiceDB does not compile, with its message', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-schema-'))
  const file = path.join(dir, 'bad.zed')
  writeFileSync(file, 'definition user {}\ndefinition doc {\n  relation reader: usr\n}\n')
  const r = spawnSync(tsx, [server], { env: { ...process.env, SCHEMA_FILE: file, PORT: '18089' }, encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 1)
  t.match(r.stderr, /schema\.zed was refused by SpiceDB: .*usr/)
})

t.test('a durable engine without REDIS_URL is refused unless the risk is accepted by name', async (t) => {
  const remote = { SPICEDB_ENDPOINT: 'spicedb:50051', SPICEDB_PRESHARED_KEY: 'k' }
  const pg = { SPICEDB_DATASTORE_ENGINE: 'postgres', SPICEDB_DATASTORE_URI: 'postgres://x/y' }
  for (const env of [remote, pg]) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message: /REDIS_URL.*durable.*EVENTS_ALLOW_VOLATILE_IDEMPOTENCY=true/ })
    t.doesNotThrow(() => loadConfig({ ...env, REDIS_URL: 'redis://r:6379' }), 'with REDIS_URL')
    t.doesNotThrow(() => loadConfig({ ...env, EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true' }), 'risk accepted')
  }
  t.doesNotThrow(() => loadConfig({ SPICEDB_DATASTORE_ENGINE: 'memory' }), 'an in-memory engine loses its state with the ids')
  t.throws(() => loadConfig({ EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'yes' }), { message: /EVENTS_ALLOW_VOLATILE_IDEMPOTENCY/ })
  t.throws(() => loadConfig({ REDIS_ALLOW_DATA_LOSS: '1' }), { message: /REDIS_ALLOW_DATA_LOSS/ })
  t.equal(loadConfig({ REDIS_ALLOW_DATA_LOSS: 'true' }).redisAllowDataLoss, true)
  t.equal(loadConfig({ PORT: '0' }).port, 0, 'PORT=0: any free port')
})

t.test('the server refuses to start on a durable engine without REDIS_URL, naming both settings', async (t) => {
  const env = { ...process.env, SPICEDB_ENDPOINT: '127.0.0.1:1', SPICEDB_PRESHARED_KEY: 'k', REDIS_URL: '', EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: '' }
  const r = spawnSync(tsx, [server], { env, encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 1)
  t.match(r.stderr, /invalid setting REDIS_URL: required when the engine is durable \(SPICEDB_ENDPOINT is set\)/)
  t.match(r.stderr, /EVENTS_ALLOW_VOLATILE_IDEMPOTENCY=true/)
})

t.test("README's settings table names every setting, each with the default src/settings.ts gives it", async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const rows = new Map<string, string>()
  for (const line of readme.split('\n')) {
    const m = /^\|\s*([^|]+?)\s*\|\s*([^|]*?)\s*\|/.exec(line)
    if (!m) continue
    for (const name of m[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) rows.set(name[1]!, m[2]!)
  }
  for (const [name, schema] of Object.entries(EnvSchema.properties as Record<string, { default?: unknown }>)) {
    t.ok(rows.has(name), `${name} is in the README's settings table`)
    if (schema.default !== undefined && rows.has(name)) {
      t.match(rows.get(name)!, `\`${String(schema.default)}\``, `${name}: the README says the default ${String(schema.default)}`)
    }
  }
})
