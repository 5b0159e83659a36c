/**
 * The API's doors, tried as an attacker would: every operation of the committed openapi.yaml
 * under spellings of its path that the router may decode or normalise (percent-encoding,
 * dot-segments, double slashes, case), under HEAD and OPTIONS, and over a real socket with
 * request lines `inject` cannot send (absolute-form, raw dot-segments, asterisk-form). Without
 * a key none of them may reach a secured handler; with a key, each route asks exactly the
 * scope the document names.
 */
import t from 'tap'
import net from 'node:net'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { buildTestApp, type TestApp } from '../helpers/app.js'

interface Op {
  method: string
  path: string
  open: boolean
  scopes: string[]
}

const doc = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8'))
const ops: Op[] = Object.entries(doc.paths as Record<string, Record<string, { security?: { apiKey?: string[] }[] }>>).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
    .map(([m, op]) => {
      const security = op.security ?? doc.security
      return { method: m.toUpperCase(), path: path.replace(/\{[^}]+\}/g, 'x1'), open: security.length === 0, scopes: security[0]?.apiKey ?? [] }
    }),
)
const secured = ops.filter((o) => !o.open)

const enc = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`
const encUpper = (c: string) => enc(c).toUpperCase()

/** spellings of a path that a router may take for the path itself */
function spellings(path: string): string[] {
  const segs = path.split('/').slice(1)
  const at = (i: number, f: (s: string) => string) => '/' + segs.map((s, j) => (j === i ? f(s) : s)).join('/')
  return [
    path,
    at(0, (s) => enc(s[0]!) + s.slice(1)), // /%761/check
    at(0, (s) => s.slice(0, -1) + enc(s.at(-1)!)), // /v%31/check
    '/' + segs.map((s) => [...s].map(enc).join('')).join('/'), // every character encoded
    '/' + segs.map((s) => [...s].map(encUpper).join('')).join('/'),
    at(segs.length - 1, (s) => enc(s[0]!) + s.slice(1)),
    '/' + segs.join('%2f'), // an encoded slash
    '/' + segs.join('%2F'),
    '/' + path,
    '/' + segs.join('//'),
    '/' + segs.join('/./'),
    `/x/..${path}`,
    `/x/%2e%2e${path}`,
    `${path}/`,
    `${path}/.`,
    path.toUpperCase(),
    `${path};x=1`,
    `${path}%00`,
    `${path}?x=/v1/healthz`,
    `${path}#frag`,
  ]
}

const KEYS = {
  full: 'full-key-0123456789abcdef',
  check: 'check-key-0123456789abcdef',
  audit: 'audit-key-0123456789abcdef',
  write: 'write-key-0123456789abcdef',
  events: 'events-key-0123456789abcdef',
  platform: 'platform-key-0123456789abcdef',
  admin: 'admin-key-0123456789abcdef',
}
const apiKeys = Object.entries(KEYS).map(([name, key]) => (name === 'full' ? `${name}:${key}` : `${name}:${key}:${name}`))
const bearer = (name: keyof typeof KEYS) => ({ authorization: `Bearer ${KEYS[name]}` })

// rate limits off: this suite sends hundreds of requests without a key on purpose
const doorsApp = (t: Parameters<typeof buildTestApp>[0]) =>
  buildTestApp(t, { overrides: { apiKeys, rateLimit: { windowSeconds: 60, authFailures: 0, perKey: 0 } } })

t.test('the document lists the contract routes, health open and every other route secured', async (t) => {
  t.ok(secured.length >= 12, `${secured.length} secured operations`)
  for (const p of ['/healthz', '/readyz'])
    t.ok(
      ops.find((o) => o.path === p && o.open),
      `${p} is open`,
    )
  t.same(doc.components.securitySchemes.apiKey, { ...doc.components.securitySchemes.apiKey, type: 'http', scheme: 'bearer' })
  const paths = doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>
  for (const o of secured) {
    const responses = paths[o.path]![o.method.toLowerCase()]!.responses
    for (const s of ['401', '403', '429']) t.ok(responses[s], `${o.method} ${o.path} documents ${s}`)
  }
})

t.test('no spelling of any secured path, under any method, reaches a handler without a key', async (t) => {
  const app = await doorsApp(t)
  let tried = 0
  const leaks: string[] = []
  for (const o of secured) {
    for (const url of spellings(o.path)) {
      for (const method of [o.method, 'HEAD', 'OPTIONS', 'GET', 'POST', 'DELETE'] as const) {
        for (const headers of [{}, { authorization: 'Bearer wrong-key-0123456789abcdef' }, { authorization: `Basic ${KEYS.full}` }]) {
          const res = await app.inject({ method, url, headers, payload: method === 'GET' || method === 'HEAD' ? undefined : {} })
          tried++
          if (res.statusCode !== 401) leaks.push(`${method} ${url} ${JSON.stringify(headers)} -> ${res.statusCode}`)
          else if (method !== 'HEAD' && res.json().code !== 'GW_UNAUTHORIZED') leaks.push(`${method} ${url}: code ${res.json().code}`)
        }
      }
    }
  }
  t.same(leaks, [], `all ${tried} requests answered 401`)
})

t.test('open routes stay open, and only those', async (t) => {
  const app = await doorsApp(t)
  for (const url of ['/healthz', '/readyz', '/openapi.json', '/docs', '/docs/json', '/metrics']) {
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, `GET ${url}`)
    t.equal((await app.inject({ method: 'HEAD', url })).statusCode, 200, `HEAD ${url}`)
  }
  for (const url of ['/', '/nope', '/v1', '/v1/', '/v2/check', '/healthz/x', '/docsx', '/admin', '/.env', '/metrics/x']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 401, `GET ${url} without a key: 401, not a map of the API`)
    const known = await app.inject({ method: 'GET', url, headers: bearer('check') })
    t.equal(known.statusCode, 404, `GET ${url} with a key: 404`)
    t.equal(known.json().code, 'GW_NOT_FOUND')
  }
})

t.test('METRICS_PUBLIC=false puts /metrics behind any valid key', async (t) => {
  const app = await buildTestApp(t, { overrides: { apiKeys, metricsPublic: false } })
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: bearer('check') })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
})

/** one request on a raw socket; the whole answer as text */
function rawRequest(port: number, text: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let data = ''
    socket.setEncoding('latin1')
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${text.split('\r\n')[0]}`)))
    socket.on('data', (d) => (data += d))
    socket.on('error', reject)
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), text: data }))
    socket.write(text)
  })
}

t.test('over a real socket: absolute-form, raw dot-segments, asterisk-form', async (t) => {
  const app: TestApp = await doorsApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as net.AddressInfo).port
  const line = (method: string, target: string, extra = '', body = ['GET', 'HEAD', 'OPTIONS'].includes(method) ? '' : '{}') => {
    const length = body ? `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` : ''
    return `${method} ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\n${length}${extra}connection: close\r\n\r\n${body}`
  }
  const leaks: string[] = []
  for (const o of secured) {
    const targets = [
      `http://127.0.0.1:${port}${o.path}`,
      `http://evil.example${o.path}`,
      `http://127.0.0.1${'/' + o.path.slice(1).replace(/^v/, '%76')}`,
      `HTTP://127.0.0.1${o.path}`,
      `/x/..${o.path}`,
      `/.${o.path}`,
      `//${o.path.slice(1)}`,
    ]
    for (const target of targets) {
      for (const method of [o.method, 'HEAD']) {
        const res = await rawRequest(port, line(method, target))
        if (res.status !== 401) leaks.push(`${method} ${target} -> ${res.status}`)
      }
    }
  }
  t.same(leaks, [], 'every raw request line answered 401')
  t.equal((await rawRequest(port, line('OPTIONS', '*'))).status, 401, 'asterisk-form')

  // the same lines with a key do reach the route: the 401s above were the key check
  const question = JSON.stringify({ resource: 'program:p1', permission: 'run', subject: 'user:ana' })
  for (const target of [`http://127.0.0.1:${port}/%761/check`, `http://evil.example/v%31/check`]) {
    const withKey = await rawRequest(port, line('POST', target, `authorization: Bearer ${KEYS.check}\r\n`, question))
    t.equal(withKey.status, 200, `POST ${target} with a key: ${withKey.text.split('\r\n\r\n')[1]}`)
  }
})

/** the scopes the contract gives each route (api.md, "Keys and scopes") */
const CONTRACT: Record<string, string[]> = {
  'POST /v1/check': ['check'],
  'POST /v1/check/bulk': ['check'],
  'POST /v1/lookup/resources': ['check'],
  'POST /v1/lookup/subjects': ['check'],
  'POST /v1/expand': ['audit'],
  'POST /v1/explain': ['audit'],
  'POST /v1/permissions': ['check'],
  'GET /v1/access-report': ['audit'],
  'GET /v1/audit': ['audit'],
  'GET /v1/changes': ['audit'],
  'GET /v1/relationships': ['audit'],
  'POST /v1/relationships': ['write'],
  'DELETE /v1/relationships': ['write'],
  'POST /v1/events': ['events', 'platform'],
  'GET /v1/schema': ['admin'],
}

t.test('each route asks the scope the document names, and the document names the contract', async (t) => {
  const app = await doorsApp(t)
  for (const o of secured) {
    const contract = CONTRACT[`${o.method} ${o.path}`]
    if (contract) t.same(o.scopes, contract, `${o.method} ${o.path} documents ${contract.join(' or ')}`)
    else t.ok(o.scopes.length > 0, `${o.method} ${o.path} names a scope`)
    for (const scope of ['check', 'audit', 'write', 'events', 'platform', 'admin'] as const) {
      const res = await app.inject({ method: o.method as 'GET', url: o.path, headers: bearer(scope), payload: o.method === 'GET' ? undefined : {} })
      if (o.scopes.includes(scope)) {
        t.not(res.json().code, 'GW_MISSING_SCOPE', `${scope} may ${o.method} ${o.path}`)
        t.not(res.statusCode, 401)
      } else {
        t.equal(res.statusCode, 403, `${scope} may not ${o.method} ${o.path}`)
        t.equal(res.json().code, 'GW_MISSING_SCOPE')
        t.match(res.json().message, new RegExp(`key ${scope} lacks the scope ${o.scopes.join(' or ')}`))
      }
    }
    const full = await app.inject({ method: o.method as 'GET', url: o.path, headers: bearer('full'), payload: o.method === 'GET' ? undefined : {} })
    t.not(full.json().code, 'GW_MISSING_SCOPE', `a key listed without scopes may ${o.method} ${o.path}`)
  }
})
