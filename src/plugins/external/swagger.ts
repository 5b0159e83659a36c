/**
 * OpenAPI from the route schemas (@fastify/swagger), interactive docs at /docs, and the
 * document itself at /openapi.json. The committed openapi.yaml is generated from the same.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { finishDocument } from './openapi-operations.js'
import { forGenerators } from './openapi-generators.js'

export const OPENAPI_INFO = {
  title: 'Trellis authorization gateway',
  description:
    'Relationship-based access control for coaching and training businesses: checks, lookups, ' +
    'expand, explain and access reports over SpiceDB, and domain events that become relationships.',
  version: '1.0.0',
  // package.json: UNLICENSED, a private service. OpenAPI 3.1 asks for an SPDX expression and
  // generators (openapi-generator) refuse a license without one: SPDX's LicenseRef- form names
  // a licence of one's own.
  license: { name: 'UNLICENSED (proprietary, all rights reserved)', identifier: 'LicenseRef-Proprietary' },
}

/**
 * /docs is served on the gateway's origin, where keys are typed: no other site may frame it
 * (clickjacking "Try it out"), and only its own files run. Swagger UI needs almost nothing
 * inline: @fastify/swagger-ui's page loads its script and styles from /docs/static, React sets
 * styles through the DOM, which `style-src` does not govern, and the logo is a data: image.
 * The one exception is the `<style>` inside the built-in topbar logo, allowed by its hash
 * (swagger-ui 5's; test/contract/docs-browser.test.ts fails on any violation, so an upgrade says so).
 */
const TOPBAR_LOGO_STYLE = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"
const DOCS_HEADERS = {
  'content-security-policy':
    `default-src 'none'; script-src 'self'; style-src 'self' ${TOPBAR_LOGO_STYLE}; img-src 'self' data:; font-src 'self'; connect-src 'self'; ` +
    "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

async function swaggerPlugin(app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      // relative: /docs "Try it out" and clients reach the gateway that served the document
      servers: [{ url: '/', description: 'this gateway (the address the document was read from)' }],
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An API key from API_KEYS or API_KEYS_FILE, or a JWT from the identity provider when OIDC_JWKS_URL is set (its ' +
              'scopes claim names the scopes), required on every route but health, metrics and these docs once either is configured. Each operation lists the scopes of which the key needs one: check, audit, ' +
              'write, events, platform, admin (a key configured without scopes has them all). 401: no or unknown key; ' +
              '403 GW_MISSING_SCOPE: the key lacks the scope; 429 GW_RATE_LIMITED: too many failed authentications ' +
              'from the address, or requests on the key (see retry-after).',
          },
        },
      },
      security: [{ apiKey: [] }],
      tags: [
        { name: 'questions', description: 'check, lookup, expand, explain, access report' },
        { name: 'events', description: 'domain events that become relationships' },
        { name: 'relationships', description: 'direct relationship administration' },
        { name: 'schema', description: 'the authorization model in force' },
        { name: 'audit', description: 'who changed access, and the changes feed' },
        { name: 'onboarding', description: "export, import and reconcile a platform's relationships" },
        { name: 'operations', description: 'health and readiness' },
      ],
    },
    transformObject: (doc) => forGenerators(finishDocument('openapiObject' in doc ? doc.openapiObject : {})),
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  })
  // In a plugin of its own, so the headers reach every /docs answer (the page, its script and
  // styles, oauth2-redirect.html) and nothing else.
  await app.register(async (docs) => {
    docs.addHook('onSend', async (_req, reply) => {
      reply.headers(DOCS_HEADERS)
    })
    await docs.register(swaggerUi, { routePrefix: '/docs' })
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

export default fp(swaggerPlugin, { name: 'swagger' })
