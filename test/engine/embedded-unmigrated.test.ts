/**
 * The embedded engine on a Postgres database SpiceDB's migrations never ran on: the gateway
 * process stops at start with a sentence naming the setting and the command that migrates
 * (it used to die with an EngineError's stack trace). A real `src/server.ts` process on an
 * empty database of the test Postgres.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import t from 'tap'
import { requirePart } from '../helpers/app.js'
import { testPostgresUrl } from '../helpers/engine-remote.js'

const root = path.resolve(import.meta.dirname, '../..')

t.test('an unmigrated database stops the start with the migrate command, not a stack trace', async (t) => {
  const base = testPostgresUrl()
  if (!requirePart(t, 'postgres (TEST_POSTGRES_URL)', Boolean(base))) return
  const name = `trellis_unmigrated_${process.pid}_${randomBytes(3).toString('hex')}`
  const psql = (sql: string) => execFileSync('psql', [base!, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' })
  psql(`CREATE DATABASE ${name}`)
  t.teardown(() => void psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  const u = new URL(base!)
  u.pathname = `/${name}`
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      SPICEDB_ENDPOINT: '',
      SPICEDB_DATASTORE_ENGINE: 'postgres',
      SPICEDB_DATASTORE_URI: u.toString(),
      REDIS_URL: '',
      EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()))
  const timer = setTimeout(() => proc.kill('SIGKILL'), 90_000)
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve))
  clearTimeout(timer)
  t.equal(code, 1, 'exits 1')
  t.match(out, /trellis: SPICEDB_DATASTORE_URI: the postgres database has no SpiceDB tables/, out)
  t.match(out, /spicedb datastore migrate head --datastore-engine postgres --datastore-conn-uri "\$SPICEDB_DATASTORE_URI"/)
  t.notMatch(out, /\n\s+at /, 'no stack trace')
  t.notMatch(out, new RegExp(name), 'the URI (a secret) is not printed')
})
