/**
 * Who may call what. Decided on the route the router matched, never on the URL as written:
 * `/%761/check`, `/v1//check`, `http://host/v1/check` and HEAD reach a route's handler only
 * through its own rule. Deny by default: a route is open only when it is in PUBLIC_ROUTES
 * below, a route that declares no scope needs `admin`, and an unmatched path answers 401 to a
 * caller without a valid key (404 only once authenticated, so no one maps the API unasked).
 *
 * Routes declare `config: { scope }` (one scope, several of which one suffices, or `any-key`)
 * and, where the body decides, `config: { bodyScope }` (checked once the body is parsed).
 * After authentication `request.caller` is `{ keyName, scopes }`; it is undefined only when
 * no keys are configured (API_KEYS and API_KEYS_FILE unset), which means full access.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import Type from 'typebox'
import { decodeJwt } from 'jose'
import { bearer, sha256, type Scope } from '../../domain/callers/api-keys.js'
import { holdAuthorization, type Credential } from '../../domain/callers/authorization-hold.js'
import { looksLikeJwt } from '../../domain/callers/jwt.js'
import { GatewayError } from '../../domain/wire/errors.js'
import { scopesOf, type BodyScope, type RouteScope } from '../../domain/callers/scopes.js'

export type { Scope } from '../../domain/callers/api-keys.js'

export interface Caller {
  keyName: string
  scopes: ReadonlySet<Scope>
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the authenticated key; undefined only when no keys are configured (full access) */
    caller?: Caller
    /** the credential presented, re-checkable for as long as the response lasts */
    credential?: Credential
    /**
     * For responses that outlive the request (streams): calls `onLost` once when the caller's
     * credential stops resolving to a key with the route's scope (src/domain/callers/authorization-hold.ts).
     * Returns the stop; call it when the response ends.
     */
    keepAuthorized(onLost: (reason: GatewayError) => void): () => void
  }
  interface FastifyContextConfig {
    /** what the route needs of the caller's key (default: `admin`) */
    scope?: Exclude<RouteScope, 'public'>
    /** a further scope some bodies need, checked after the body is parsed */
    bodyScope?: BodyScope
    /** the same for a query string, checked once it is validated */
    queryScope?: BodyScope
  }
}

/**
 * The only routes anyone may call without a key: probes, the API's own description, and the
 * access explorer's page and files (they hold no data: the page calls /v1 with the key the
 * person types, and those calls need `audit` or `check` as they do from any client).
 * /metrics too unless METRICS_PUBLIC=false: Prometheus scrapers rarely carry keys, and it
 * holds counts by route pattern and status, no names or ids.
 */
const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/openapi.json', '/docs', '/explorer', '/explorer/assets/:name'])
const isPublicUrl = (url: string) => PUBLIC_ROUTES.has(url) || url.startsWith('/docs/')

/**
 * Scopes for contract routes built on other branches, until their files declare a scope
 * themselves (a declaration on the route wins).
 */
const CONTRACT_SCOPES: Record<string, Scope> = {
  '/v1/permissions': 'check',
  '/v1/audit': 'audit',
  '/v1/changes': 'audit',
}

export interface AuthOptions {
  /** /metrics without a key (default true) */
  metricsPublic?: boolean
  /** how often a long-lived response re-checks its key without a key ring change (ms, default 5000) */
  reauthMs?: number
}

/** undefined: no route matched */
export function routeScopeOf(routeUrl: string | undefined, config: { scope?: RouteScope } | undefined, metricsPublic: boolean): RouteScope | undefined {
  if (routeUrl === undefined) return undefined
  if (isPublicUrl(routeUrl)) return 'public'
  if (routeUrl === '/metrics' && !config?.scope) return metricsPublic ? 'public' : 'any-key'
  return config?.scope ?? CONTRACT_SCOPES[routeUrl] ?? 'admin'
}

const unauthorized = (message = 'missing or unknown API key or token: send Authorization: Bearer <key or token>') =>
  new GatewayError('GW_UNAUTHORIZED', 401, message)

export const missingScope = (caller: Caller, scopes: readonly Scope[], why?: string) =>
  new GatewayError('GW_MISSING_SCOPE', 403, `key ${caller.keyName} lacks the scope ${scopes.join(' or ')}${why ? `, needed for ${why}` : ''}`, undefined, {
    required: scopes,
  })

function scopeRefusal(caller: Caller, route: RouteScope): GatewayError | undefined {
  if (route === 'public' || route === 'any-key') return undefined
  const anyOf = scopesOf(route)
  return anyOf.some((s) => caller.scopes.has(s)) ? undefined : missingScope(caller, anyOf)
}

function requireScope(caller: Caller, route: RouteScope) {
  const refusal = scopeRefusal(caller, route)
  if (refusal) throw refusal
}

async function authPlugin(app: FastifyInstance, opts: AuthOptions) {
  const metricsPublic = opts.metricsPublic ?? true
  const reauthMs = opts.reauthMs ?? 5000
  app.decorateRequest('caller', undefined)
  app.decorateRequest('credential', undefined)
  app.decorateRequest('keepAuthorized', function (this: FastifyRequest, onLost: (reason: GatewayError) => void) {
    // no credential: the API is open (no keys configured) or the route is public
    return this.credential ? holdAuthorization(this.credential, { everyMs: reauthMs, onLost }) : () => undefined
  })
  const scopeOf = (req: FastifyRequest) => (req.is404 ? undefined : routeScopeOf(req.routeOptions.url, req.routeOptions.config, metricsPublic))

  app.addHook('onRequest', async (req, reply) => {
    const route = scopeOf(req)
    if (route === 'public' || (!app.apiKeys.enabled && !app.oidc)) return
    app.callerLimits.refuseBlocked(req, reply)
    const presented = bearer(req.headers.authorization)
    // only the hash is kept: a long-lived response re-checks with it, never with the key
    const hash = presented === undefined ? undefined : sha256(presented)
    const key = hash === undefined ? undefined : app.apiKeys.findHash(hash)
    // a key, or else an OIDC token (plugins/app/oidc.ts)
    const caller = key
      ? { keyName: key.name, scopes: key.scopes }
      : presented && app.oidc && looksLikeJwt(presented)
        ? await app.oidc.verify(presented)
        : undefined
    if (!caller) {
      await app.callerLimits.failed(req, reply)
      reply.header('www-authenticate', 'Bearer')
      throw unauthorized()
    }
    req.caller = caller
    if (route !== undefined) req.credential = key ? keyCredential(app, hash!, route) : tokenCredential(caller, presented!, route)
    await app.callerLimits.request(req, reply, caller.keyName)
    // unmatched: the 404 handler answers, now that the caller is known
    if (route !== undefined) requireScope(req.caller, route)
  })

  app.addHook('preHandler', async (req) => {
    if (!req.caller) return
    const config = req.routeOptions.config
    for (const need of [config?.bodyScope?.(req.body), config?.queryScope?.(req.query)]) {
      if (need && !req.caller.scopes.has(need.scope)) throw missingScope(req.caller, [need.scope], need.why)
    }
  })

  app.addHook('onRoute', (route) => documentAccess(route, metricsPublic))
}

/**
 * An API key as a long-lived response re-checks it: only its hash is kept, and each check
 * finds it in the key ring as it is now (removed: 401; its scopes changed: 403).
 */
function keyCredential(app: FastifyInstance, hash: Buffer, route: RouteScope): Credential {
  return {
    recheck() {
      const key = app.apiKeys.findHash(hash)
      if (!key) return unauthorized('the API key is no longer valid (removed or rotated out)')
      return scopeRefusal({ keyName: key.name, scopes: key.scopes }, route)
    },
    onChange: (listener) => app.apiKeys.onChange(listener),
  }
}

/** A verified token holds its scopes until it expires; an open feed ends then. */
function tokenCredential(caller: { keyName: string; scopes: ReadonlySet<Scope> }, token: string, route: RouteScope): Credential {
  let exp: number | undefined
  try {
    exp = decodeJwt(token).exp
  } catch {
    exp = undefined
  }
  return { recheck: () => scopeRefusal(caller, route), ...(exp === undefined ? {} : { expiresAt: exp * 1000 }) }
}

const ErrorRef = Type.Ref('ErrorResponse')

/** OpenAPI: open routes carry no security; the others name their scopes and 401/403/429 */
function documentAccess(route: RouteOptions, metricsPublic: boolean) {
  const schema = route.schema as (Record<string, unknown> & { response?: Record<string, unknown>; hide?: boolean }) | undefined
  if (!schema || schema.hide || route.method === 'HEAD') return
  const scope = routeScopeOf(route.url, route.config as { scope?: RouteScope }, metricsPublic)!
  if (scope === 'public') {
    route.schema = { ...schema, security: [] }
    return
  }
  const scopes = scope === 'any-key' ? [] : scopesOf(scope)
  const config = route.config as { bodyScope?: BodyScope; queryScope?: BodyScope } | undefined
  const needs = scopes.length ? `Needs a key with the scope ${scopes.map((s) => `\`${s}\``).join(' or ')}.` : 'Needs a valid key.'
  route.schema = {
    ...schema,
    security: [{ apiKey: scopes }],
    response: { 401: ErrorRef, 403: ErrorRef, 429: ErrorRef, ...schema.response },
    description: [schema.description, [needs, config?.bodyScope?.doc, config?.queryScope?.doc].filter(Boolean).join(' ')].filter(Boolean).join('\n\n'),
  }
}

export default fp(authPlugin, { name: 'auth', dependencies: ['api-keys', 'oidc', 'rate-limit'] })
