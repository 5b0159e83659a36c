/**
 * OIDC / JWT callers as plain data: the settings (OIDC_*), and what a verified token's claims
 * make of the caller: a name (idempotency, audit and rate limits are scoped to it, as to a
 * key's) and our scopes, read from a claim. Verifying the token is plugins/app/oidc.ts's.
 */
import Type, { type Static } from 'typebox'
import { SCOPES, type Scope } from './api-keys.js'

export const OidcEnv = {
  OIDC_JWKS_URL: Type.Optional(Type.String({ pattern: '^https?://\\S+$', description: "the identity provider's JWKS (signing keys), cached and refreshed" })),
  OIDC_ISSUER: Type.Optional(Type.String({ minLength: 1, description: 'the `iss` every token must carry' })),
  OIDC_AUDIENCE: Type.Optional(Type.String({ pattern: '^[^\\s,]+(,[^\\s,]+)*$', description: 'the `aud` a token must carry (one of these, comma-separated)' })),
  OIDC_SCOPES_CLAIM: Type.Optional(
    Type.String({ pattern: '^[A-Za-z0-9_.:/-]{1,100}$', description: 'the claim holding scopes: a space-separated string or an array (default scope)' }),
  ),
  OIDC_SCOPE_PREFIX: Type.Optional(
    Type.String({ pattern: '^[^\\s]{0,100}$', description: 'the prefix of our scopes in that claim, e.g. trellis: (default none)' }),
  ),
  OIDC_CALLER_CLAIM: Type.Optional(
    Type.String({ pattern: '^[A-Za-z0-9_.:/-]{1,100}$', description: 'the claim naming the caller (default: client_id, azp, then sub)' }),
  ),
}

export interface OidcSettings {
  jwksUrl: string
  issuer: string
  audience: string[]
  scopesClaim: string
  scopePrefix: string
  /** undefined: client_id, azp, then sub */
  callerClaim?: string
}

type Env = { [K in keyof typeof OidcEnv]?: Static<(typeof OidcEnv)[K]> }

/** undefined: no OIDC (API keys only). Throws the message of a ConfigError, naming the setting. */
export function oidcSettings(e: Env): OidcSettings | string | undefined {
  const any = Object.keys(OidcEnv).some((k) => e[k as keyof Env] !== undefined)
  if (!any) return undefined
  if (!e.OIDC_JWKS_URL) return 'invalid setting OIDC_JWKS_URL: required with the other OIDC_* settings'
  // a token from any issuer, or for any service, would otherwise pass
  if (!e.OIDC_ISSUER) return 'invalid setting OIDC_ISSUER: required with OIDC_JWKS_URL'
  if (!e.OIDC_AUDIENCE) return 'invalid setting OIDC_AUDIENCE: required with OIDC_JWKS_URL'
  return {
    jwksUrl: e.OIDC_JWKS_URL,
    issuer: e.OIDC_ISSUER,
    audience: e.OIDC_AUDIENCE.split(','),
    scopesClaim: e.OIDC_SCOPES_CLAIM ?? 'scope',
    scopePrefix: e.OIDC_SCOPE_PREFIX ?? '',
    callerClaim: e.OIDC_CALLER_CLAIM,
  }
}

/** Our scopes in the claim: `check` (or `<prefix>check`) from `"openid check audit"` or `["check"]`; others are ignored. */
export function scopesFromClaims(claims: Record<string, unknown>, settings: Pick<OidcSettings, 'scopesClaim' | 'scopePrefix'>): Set<Scope> {
  const raw = claims[settings.scopesClaim]
  const words = typeof raw === 'string' ? raw.split(/\s+/) : Array.isArray(raw) ? raw.filter((w): w is string => typeof w === 'string') : []
  const scopes = new Set<Scope>()
  for (const w of words) {
    if (!w.startsWith(settings.scopePrefix)) continue
    const name = w.slice(settings.scopePrefix.length)
    if ((SCOPES as readonly string[]).includes(name)) scopes.add(name as Scope)
  }
  return scopes
}

const NAME = /^[A-Za-z0-9_.@:/|-]{1,120}$/

/** `oidc:<client>`, apart from every key name (which cannot hold a colon); undefined: no usable name */
export function callerName(claims: Record<string, unknown>, claim?: string): string | undefined {
  const candidates = claim ? [claims[claim]] : [claims.client_id, claims.azp, claims.sub]
  const found = candidates.find((c): c is string => typeof c === 'string' && NAME.test(c))
  return found === undefined ? undefined : `oidc:${found}`
}

/** a compact JWS (three base64url parts), so a key that is not a token never costs a verification */
export const looksLikeJwt = (credential: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(credential)
