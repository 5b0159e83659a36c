/**
 * A service's own routes behind the guards: a Fastify app using fastifyGuard refuses (403) a
 * request the check refuses and lets through one it allows; 503 when the gateway is gone. The
 * Express guard runs on a plain node:http server, as Connect-style middleware.
 */
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyRequest } from 'fastify'
import { TrellisClient, expressGuard, fastifyGuard, type DomainEvent } from '../dist/index.js'
import { FIRST_HOUR_EVENTS } from '../../../src/domain/events/contract/examples.js'
import { KEY, startGateway } from './gateway.js'

type Req = FastifyRequest<{ Params: { id: string } }>

t.test('a Fastify service refuses what the check refuses and serves what it allows', async (t) => {
  const gateway = await startGateway(t)
  const trellis = new TrellisClient({ baseUrl: gateway.url, token: KEY, retry: { attempts: 2, baseDelayMs: 1 } })
  await trellis.sendEvents(FIRST_HOUR_EVENTS as unknown as DomainEvent[])

  const service = Fastify()
  t.teardown(() => service.close())
  const decisions: boolean[] = []
  service.get<{ Params: { id: string } }>(
    '/clients/:id/notes',
    {
      preHandler: fastifyGuard<Req>(trellis, {
        resource: (req) => `client:${req.params.id}`,
        permission: 'coach',
        subject: (req) => (typeof req.headers['x-user'] === 'string' ? `user:${req.headers['x-user']}` : undefined),
        onDecision: (_req, d) => decisions.push(d.allowed),
      }),
    },
    async (req) => ({ notes: `notes of ${req.params.id}` }),
  )
  const get = (user: string | undefined, id = 'cassandra') =>
    service.inject({ method: 'GET', url: `/clients/${id}/notes`, headers: user ? { 'x-user': user } : {} })

  const allowed = await get('rob')
  t.equal(allowed.statusCode, 200, 'rob coaches cassandra: the handler runs')
  t.same(allowed.json(), { notes: 'notes of cassandra' })
  const refused = await get('jeannine')
  t.equal(refused.statusCode, 403, 'jeannine only views: refused')
  t.equal(refused.json().code, 'FORBIDDEN')
  t.equal((await get(undefined)).statusCode, 403, 'no subject: refused')
  t.equal((await get('rob', 'no such client!')).statusCode, 403, 'a question the gateway refuses is not a pass')
  t.same(decisions, [true, false, false, false])

  await gateway.app.close()
  const down = await get('rob')
  t.equal(down.statusCode, 503, 'the gateway is gone: refused, retry later')
  t.ok(down.headers['retry-after'])
})

t.test('the Express guard refuses and passes on a node:http server', async (t) => {
  const gateway = await startGateway(t)
  const trellis = new TrellisClient({ baseUrl: gateway.url, token: KEY })
  await trellis.sendEvents(FIRST_HOUR_EVENTS as unknown as DomainEvent[])
  const guard = expressGuard<http.IncomingMessage>(trellis, {
    resource: () => 'client:cassandra',
    permission: 'coach',
    subject: (req) => `user:${req.headers['x-user']}`,
  })
  const server = http.createServer((req, res) => guard(req, res, (err) => (err ? res.writeHead(500).end() : res.end('through'))))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const rob = await fetch(base, { headers: { 'x-user': 'rob' } })
  t.equal(rob.status, 200)
  t.equal(await rob.text(), 'through')
  const other = await fetch(base, { headers: { 'x-user': 'jeannine' } })
  t.equal(other.status, 403)
  t.equal((await other.json()).code, 'FORBIDDEN')
})

t.test('the types are generated from the committed openapi.yaml', async (t) => {
  const { execFileSync } = await import('node:child_process')
  const { readFileSync, mkdtempSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const out = join(mkdtempSync(join(tmpdir(), 'trellis-client-')), 'openapi.ts')
  const here = new URL('..', import.meta.url).pathname
  execFileSync('npx', ['openapi-typescript', '../../openapi.yaml', '--enum-values', '--root-types', '-o', out], { cwd: here, stdio: 'ignore' })
  t.equal(readFileSync(join(here, 'src/openapi.ts'), 'utf8'), readFileSync(out, 'utf8'), 'src/openapi.ts has drifted from openapi.yaml: run `npm run generate`')
})
