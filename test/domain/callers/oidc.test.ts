/**
 * OIDC/JWT callers beside API keys, against a JWKS served on 127.0.0.1 and tokens signed with
 * jose: a valid token with the scope passes; a wrong issuer, audience, an expired token, a
 * forged signature, an HMAC or unsigned token are 401; a token without the scope is 403; the
 * same rate limits as keys; a rotated key is fetched again.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose'
import { buildTestApp, type TestApp } from '../../helpers/app.js'
import { loadConfig } from '../../../src/config.js'
import { readSse } from '../../helpers/sse.js'

const ISSUER = 'https://idp.example.test/realms/platform'
const AUDIENCE = 'trellis'
const KEY = 'ops:0123456789abcdef0123:check+admin'

async function signer(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  return { jwk, privateKey, kid }
}

async function jwksServer(t: Test, keys: JWK[]) {
  let fetches = 0
  const server = http.createServer((req, res) => {
    fetches++
    if (req.url !== '/jwks') return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`, keys, fetches: () => fetches }
}

type Signer = Awaited<ReturnType<typeof signer>>

function token(s: Signer, claims: Record<string, unknown> = {}, opts: { iss?: string; aud?: string; exp?: number } = {}) {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ scope: 'openid check', client_id: 'billing', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: s.kid })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt(now - 10)
    .setExpirationTime(opts.exp ?? now + 300)
    .sign(s.privateKey)
}

const checkAs = (app: TestApp, credential: string) =>
  app.inject({
    method: 'POST',
    url: '/v1/check',
    headers: { authorization: `Bearer ${credential}` },
    payload: { resource: 'program:p1', permission: 'run', subject: 'user:ana' },
  })

async function oidcApp(
  t: Test,
  jwksUrl: string,
  extra: Record<string, string> = {},
  rateLimit?: { windowSeconds: number; authFailures: number; perKey: number },
) {
  const config = loadConfig({ API_KEYS: KEY, OIDC_JWKS_URL: jwksUrl, OIDC_ISSUER: ISSUER, OIDC_AUDIENCE: `other,${AUDIENCE}`, ...extra })
  return buildTestApp(t, { overrides: { apiKeys: config.apiKeys, oidc: config.oidc, ...(rateLimit ? { rateLimit } : {}) }, oidc: { cooldownMs: 0 } })
}

t.test('a valid token passes; one failing any check is 401; one without the scope is 403', async (t) => {
  const good = await signer('k1')
  const forger = await signer('k1') // same key id, another private key
  const idp = await jwksServer(t, [good.jwk])
  const app = await oidcApp(t, idp.url)

  const ok = await checkAs(app, await token(good))
  t.equal(ok.statusCode, 200, 'valid token with the check scope')
  t.equal(ok.json().allowed, false)

  const refusals: [string, string][] = [
    ['wrong issuer', await token(good, {}, { iss: 'https://evil.example.test' })],
    ['wrong audience', await token(good, {}, { aud: 'someone-else' })],
    ['expired', await token(good, {}, { exp: Math.floor(Date.now() / 1000) - 120 })],
    ['forged signature', await token(forger)],
    [
      'HMAC with a made-up secret',
      await new SignJWT({ scope: 'check', client_id: 'x' })
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('0123456789abcdef0123456789abcdef')),
    ],
    [
      'unsigned (alg none)',
      `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, scope: 'check', client_id: 'x', exp: Math.floor(Date.now() / 1000) + 300 })).toString('base64url')}.`,
    ],
    [
      'a tampered payload',
      (await token(good)).replace(
        /\.([^.]+)\./,
        (_m, p: string) => `.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), scope: 'admin' })).toString('base64url')}.`,
      ),
    ],
    [
      'no expiry',
      await new SignJWT({ scope: 'check', client_id: 'x' })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .sign(good.privateKey),
    ],
  ]
  for (const [why, credential] of refusals) {
    const res = await checkAs(app, credential)
    t.equal(res.statusCode, 401, why)
    t.equal(res.json().code, 'GW_UNAUTHORIZED', why)
  }

  const noScope = await checkAs(app, await token(good, { scope: 'openid audit' }))
  t.equal(noScope.statusCode, 403, 'valid token without the check scope')
  t.equal(noScope.json().code, 'GW_MISSING_SCOPE')
  t.match(noScope.json().message, /oidc:billing/)

  const keyed = await checkAs(app, '0123456789abcdef0123')
  t.equal(keyed.statusCode, 200, `API keys work beside tokens: ${keyed.body}`)
})

t.test('scopes from another claim, with a prefix, and the caller named by the claim asked for', async (t) => {
  const s = await signer('k1')
  const idp = await jwksServer(t, [s.jwk])
  const app = await oidcApp(t, idp.url, { OIDC_SCOPES_CLAIM: 'roles', OIDC_SCOPE_PREFIX: 'trellis:', OIDC_CALLER_CLAIM: 'sub' })
  t.equal((await checkAs(app, await token(s, { roles: ['trellis:check'], sub: 'svc-billing' }))).statusCode, 200)
  const unprefixed = await checkAs(app, await token(s, { roles: ['check'], sub: 'svc-billing' }))
  t.equal(unprefixed.statusCode, 403, 'a scope without the prefix is not ours')
  t.match(unprefixed.json().message, /oidc:svc-billing/)
})

t.test('tokens meet the same rate limits as keys', async (t) => {
  const s = await signer('k1')
  const idp = await jwksServer(t, [s.jwk])
  const app = await oidcApp(t, idp.url, {}, { windowSeconds: 60, authFailures: 3, perKey: 2 })
  const valid = await token(s)
  t.equal((await checkAs(app, valid)).statusCode, 200)
  t.equal((await checkAs(app, valid)).statusCode, 200)
  t.equal((await checkAs(app, valid)).statusCode, 429, 'per caller, as per key')
  const bad = await token(s, {}, { aud: 'nope' })
  const statuses = []
  for (let i = 0; i < 4; i++) statuses.push((await checkAs(app, bad)).statusCode)
  t.same(statuses, [401, 401, 401, 429], 'failed tokens count against the address like unknown keys')
})

t.test('a key the provider rotated in is fetched; an unreachable provider is 503, never a pass', async (t) => {
  const first = await signer('k1')
  const idp = await jwksServer(t, [first.jwk])
  const app = await oidcApp(t, idp.url)
  t.equal((await checkAs(app, await token(first))).statusCode, 200)
  const fetched = idp.fetches()
  t.equal((await checkAs(app, await token(first))).statusCode, 200)
  t.equal(idp.fetches(), fetched, 'the keys are kept between tokens')

  const next = await signer('k2')
  idp.keys.push(next.jwk)
  t.equal((await checkAs(app, await token(next))).statusCode, 200, 'a new key id makes the gateway fetch the keys again')

  const down = await oidcApp(t, 'http://127.0.0.1:9/jwks')
  const res = await checkAs(down, await token(first))
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'GW_IDENTITY_PROVIDER_UNAVAILABLE')
})

t.test('OIDC settings: the JWKS URL needs an issuer and an audience', async (t) => {
  t.throws(() => loadConfig({ OIDC_JWKS_URL: 'https://idp/jwks', OIDC_AUDIENCE: 'a' }), /OIDC_ISSUER/)
  t.throws(() => loadConfig({ OIDC_JWKS_URL: 'https://idp/jwks', OIDC_ISSUER: 'i' }), /OIDC_AUDIENCE/)
  t.throws(() => loadConfig({ OIDC_ISSUER: 'i' }), /OIDC_JWKS_URL/)
  t.throws(() => loadConfig({ OIDC_JWKS_URL: 'not a url', OIDC_ISSUER: 'i', OIDC_AUDIENCE: 'a' }), /OIDC_JWKS_URL/)
  t.same(loadConfig({ OIDC_JWKS_URL: 'https://idp/jwks', OIDC_ISSUER: 'i', OIDC_AUDIENCE: 'a,b' }).oidc, {
    jwksUrl: 'https://idp/jwks',
    issuer: 'i',
    audience: ['a', 'b'],
    scopesClaim: 'scope',
    scopePrefix: '',
    callerClaim: undefined,
  })
})

t.test("an open changes feed ends when its token expires, though the token's scopes still hold", async (t) => {
  const good = await signer('k1')
  const idp = await jwksServer(t, [good.jwk])
  const app = await oidcApp(t, idp.url)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const exp = Math.floor(Date.now() / 1000) + 2
  const feed = readSse(port, '/v1/changes', { authorization: `Bearer ${await token(good, { scope: 'openid audit' }, { exp })}` })
  t.equal(await feed.status, 200, 'accepted while valid')
  await feed.waitFor((e) => e.some((x) => x.event === 'ready'))
  await feed.waitFor((e) => e.some((x) => x.event === 'error'), 20_000)
  await feed.ended
  t.ok(Date.now() >= exp * 1000, 'not before the expiry')
  t.match(JSON.parse(feed.events.at(-1)!.data), { code: 'GW_UNAUTHORIZED', message: /expired/ }, 'ended with the reason')
})
