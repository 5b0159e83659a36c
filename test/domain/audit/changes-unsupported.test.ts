/**
 * The changes feed on a datastore that cannot watch: a Postgres started with
 * track_commit_timestamp=off (scripts/postgres.sh, TRELLIS_PG_TRACK_COMMIT_TIMESTAMP=off; CI's
 * own Postgres keeps it on). SpiceDB then has no Watch service. The feed must refuse with a
 * message naming the setting (it used to send `ready`, then an error blaming `types`), and
 * /readyz must say so while checks go on working.
 */
import { execFileSync } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import t from 'tap'
import { buildApp } from '../../../src/app.js'
import { loadConfig } from '../../../src/config.js'
import { requirePart } from '../../helpers/app.js'
import { createDatabase, remoteEnv, spicedbBinary, startSpiceDb } from '../../helpers/engine-remote.js'
import { readSse } from '../../helpers/sse.js'

const root = path.resolve(import.meta.dirname, '../../..')
const bin = spicedbBinary()

t.test('on Postgres without track_commit_timestamp the feed and /readyz say what to change', async (t) => {
  if (!requirePart(t, 'the spicedb binary (SPICEDB_BIN)', Boolean(bin))) return
  const port = 15400 + (process.pid % 500)
  const env = { ...process.env, TRELLIS_PG_DIR: `/tmp/trellis-pg-nots-${process.pid}`, TRELLIS_PG_PORT: String(port), TRELLIS_PG_TRACK_COMMIT_TIMESTAMP: 'off' }
  const pg = (cmd: string) =>
    execFileSync('bash', [path.join(root, 'scripts/postgres.sh'), cmd], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
  const url = pg('start').trim().split('\n').at(-1)!
  t.teardown(() => void pg('stop'))
  const db = await createDatabase(bin!, url)
  const server = await startSpiceDb(bin!, db.uri)
  const app = await buildApp({ logger: false, config: loadConfig(remoteEnv([server.endpoint], server.presharedKey)) })
  t.teardown(async () => {
    await app.close()
    await server.stop()
  })

  const check = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource: 'client:c1', permission: 'view', subject: 'user:rob' } })
  t.equal(check.statusCode, 200, 'checks work without commit timestamps')

  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 200, 'still ready: only the feed is affected')
  t.match(ready.json(), { status: 'degraded', checks: { engine: { ok: true }, changes: { ok: false, error: /track_commit_timestamp=on/ } } }, ready.body)

  await app.listen({ port: 0, host: '127.0.0.1' })
  const feed = readSse((app.server.address() as net.AddressInfo).port, '/v1/changes?types=client')
  const status = await feed.status
  await feed.ended
  t.equal(status, 501, 'refused before the stream starts')
  t.notOk(
    feed.events.some((e) => e.event === 'ready'),
    'no `ready` first',
  )
  const refused = await app.inject({ method: 'GET', url: '/v1/changes?types=client', headers: { accept: 'text/event-stream' } })
  t.equal(refused.statusCode, 501)
  t.match(refused.json(), { code: 'GW_ENGINE_UNSUPPORTED', message: /datastore cannot serve Watch.*track_commit_timestamp=on/ }, refused.body)
  t.notMatch(refused.body, /types/, "the caller's `types` is not blamed")
})
