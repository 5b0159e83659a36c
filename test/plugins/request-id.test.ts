/**
 * Request ids (plugins/app/request-id.ts): the caller's safe `x-request-id` is kept, returned
 * and logged; a missing or unsafe one is replaced by an id unique across replicas; and the id
 * reaches SpiceDB in the call's gRPC metadata (a real `spicedb serve-testing`, whose own log
 * line for the call names it).
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { buildTestApp, requirePart } from '../helpers/app.js'
import { captureLog } from '../helpers/log-capture.js'
import { spicedbBinary, waitUntilServing } from '../helpers/engine-remote.js'

const check = { resource: 'client:c1', permission: 'view', subject: 'user:rob' }

t.test("a caller's safe x-request-id is returned and logged", async (t) => {
  const { lines, stream } = captureLog()
  const app = await buildTestApp(t, { logger: { level: 'info', stream } })
  for (const id of ['trace-4bf92f3577b34da6', 'a', 'svc.web:7f-01_x', 'x'.repeat(128)]) {
    const res = await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: { 'x-request-id': id } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-request-id'], id, `kept: ${id.slice(0, 20)}`)
    t.ok(
      lines.some((l) => l.msg === 'request' && l.reqId === id),
      'the log line carries it',
    )
  }
})

t.test('an unsafe or oversized x-request-id is replaced, and error answers carry the id too', async (t) => {
  const app = await buildTestApp(t)
  for (const bad of ['x'.repeat(129), 'has space', 'quote"d', 'semi;colon', 'new\tline', '']) {
    const res = await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: { 'x-request-id': bad } })
    const id = String(res.headers['x-request-id'])
    t.not(id, bad, `replaced: ${JSON.stringify(bad.slice(0, 12))}`)
    t.match(id, /^[0-9a-f]{12}-\d+$/)
  }
  for (const [method, url, status] of [
    ['GET', '/v1/nowhere', 404],
    ['POST', '/v1/check', 400],
    ['GET', '/healthz', 200],
  ] as const) {
    const res = await app.inject({ method, url, payload: method === 'POST' ? { resource: 'nope' } : undefined })
    t.equal(res.statusCode, status)
    t.match(res.headers['x-request-id'], /^[0-9a-f]{12}-\d+$/, `${method} ${url} answers with its id`)
  }
})

t.test('ids made by two replicas never repeat (each has its own random prefix)', async (t) => {
  const a = await buildTestApp(t)
  const b = await buildTestApp(t, { engine: a.engine })
  const ids: string[] = []
  for (let i = 0; i < 20; i++) {
    for (const app of [a, b]) ids.push(String((await app.inject({ method: 'GET', url: '/healthz' })).headers['x-request-id']))
  }
  t.equal(new Set(ids).size, ids.length, `40 requests, 40 ids: ${ids.slice(0, 4).join(' ')}`)
  t.not(ids[0]!.split('-')[0], ids[1]!.split('-')[0], 'the replicas have different prefixes')
})

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

t.test('the id reaches SpiceDB in gRPC metadata: its log names the call with it', async (t) => {
  const bin = spicedbBinary()
  if (!requirePart(t, 'the spicedb binary (SPICEDB_BIN)', Boolean(bin))) return
  const endpoint = `127.0.0.1:${await freePort()}`
  const key = 'request-id-test-key'
  const proc = spawn(
    bin!,
    ['serve-testing', `--grpc-addr=${endpoint}`, '--readonly-grpc-enabled=false', '--http-enabled=false', '--log-format=json', '--log-level=info'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let log = ''
  proc.stdout!.on('data', (b: Buffer) => (log += b.toString()))
  proc.stderr!.on('data', (b: Buffer) => (log += b.toString()))
  t.teardown(() => {
    proc.kill('SIGKILL')
  })
  await waitUntilServing(endpoint, key, () => (proc.exitCode !== null ? `spicedb exited: ${log}` : undefined))
  const app = await buildApp({
    logger: false,
    config: loadConfig({ SPICEDB_ENDPOINT: endpoint, SPICEDB_PRESHARED_KEY: key, SPICEDB_INSECURE: 'true', EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true' }),
  })
  t.teardown(() => app.close())
  const id = 'follow-me-across-replicas-42'
  const res = await app.inject({ method: 'POST', url: '/v1/check', payload: check, headers: { 'x-request-id': id } })
  t.equal(res.statusCode, 200, res.body)
  const lookup = await app.inject({
    method: 'POST',
    url: '/v1/lookup/resources',
    payload: { resourceType: 'client', permission: 'view', subject: 'user:rob' },
    headers: { 'x-request-id': `${id}-lookup` },
  })
  t.equal(lookup.statusCode, 200, lookup.body)
  await new Promise((r) => setTimeout(r, 200))
  const calls = log
    .split('\n')
    .filter((l) => l.includes('"finished call"'))
    .map((l) => JSON.parse(l) as Record<string, string>)
  t.ok(
    calls.some((c) => c.requestID === id && /CheckPermission|CheckBulkPermissions/.test(c['grpc.method'] ?? '')),
    `SpiceDB logged the check under ${id}`,
  )
  t.ok(
    calls.some((c) => c.requestID === `${id}-lookup` && c['grpc.method'] === 'LookupResources'),
    'and the lookup under its own id',
  )
})
