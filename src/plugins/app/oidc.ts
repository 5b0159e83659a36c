/**
 * JWT bearer tokens from an OIDC identity provider, beside the API keys (OIDC_*; README,
 * Security). A token is accepted only when its signature verifies against the provider's JWKS
 * and its issuer, audience and times hold; anything else is a failed authentication (401),
 * counted against the address like an unknown key. The caller is `oidc:<client>` with the
 * scopes the token's scopes claim names, rate-limited like a key of that name.
 *
 * The JWKS is fetched once, kept, and fetched again when a token names a key id it does not
 * hold (the provider rotated its keys), at most once per cooldown. A provider that cannot be
 * reached is a 503, not a 401: the caller's token may be fine, and it should retry.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose'
import { GatewayError } from '../../domain/wire/errors.js'
import { callerName, scopesFromClaims, type OidcSettings } from '../../domain/callers/jwt.js'
import type { Scope } from '../../domain/callers/api-keys.js'

export interface OidcVerifier {
  /** the caller a valid token names; undefined for a token that fails any check (the reason is logged at debug) */
  verify(token: string): Promise<{ keyName: string; scopes: ReadonlySet<Scope> } | undefined>
}

declare module 'fastify' {
  interface FastifyInstance {
    /** undefined when OIDC_JWKS_URL is not set */
    oidc?: OidcVerifier
  }
}

export interface OidcOptions {
  settings?: OidcSettings
  /** the least time between two JWKS fetches for an unknown key id (ms; tests shorten it) */
  cooldownMs?: number
}

// asymmetric only: a provider's public keys must never verify an HMAC made with them
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']

/** the provider's keys could not be had: not the token's fault */
const providerDown = (err: unknown) =>
  err instanceof errors.JWKSTimeout ||
  (err instanceof Error && !(err instanceof errors.JOSEError)) ||
  (err instanceof errors.JOSEError && err.code === 'ERR_JWKS_INVALID')

async function oidcPlugin(app: FastifyInstance, opts: OidcOptions) {
  app.decorate('oidc', undefined)
  const settings = opts.settings
  if (!settings) return
  const keys = createRemoteJWKSet(new URL(settings.jwksUrl), {
    timeoutDuration: 5000,
    cooldownDuration: opts.cooldownMs ?? 30_000,
    cacheMaxAge: 10 * 60_000,
  })
  app.oidc = {
    async verify(token) {
      let payload: JWTPayload
      try {
        ;({ payload } = await jwtVerify(token, keys, {
          issuer: settings.issuer,
          audience: settings.audience,
          algorithms: ALGORITHMS,
          clockTolerance: 30,
          requiredClaims: ['exp'],
        }))
      } catch (err) {
        if (providerDown(err)) {
          app.log.warn({ err, jwks: settings.jwksUrl }, 'the identity provider keys (OIDC_JWKS_URL) could not be fetched')
          throw new GatewayError('GW_IDENTITY_PROVIDER_UNAVAILABLE', 503, 'the identity provider could not be reached to verify the token; retry')
        }
        app.log.debug({ reason: (err as { code?: string }).code ?? String(err) }, 'token refused')
        return undefined
      }
      const keyName = callerName(payload, settings.callerClaim)
      if (!keyName) return undefined
      return { keyName, scopes: scopesFromClaims(payload, settings) }
    },
  }
  app.log.info({ issuer: settings.issuer, audience: settings.audience, scopesClaim: settings.scopesClaim }, 'OIDC tokens accepted beside API keys')
}

export default fp(oidcPlugin, { name: 'oidc' })
