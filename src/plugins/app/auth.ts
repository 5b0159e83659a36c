/**
 * Caller authentication for the API: when API_KEYS is set, every /v1 request must carry
 * `Authorization: Bearer <key>` with one of them (401 otherwise). Health, metrics and docs
 * stay open for probes and scrapers. Keys are compared in constant time.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createHash, timingSafeEqual } from 'node:crypto'
import { GatewayError } from '../../domain/errors.js'

const digest = (s: string) => createHash('sha256').update(s).digest()

async function authPlugin(app: FastifyInstance, opts: { apiKeys: string[] }) {
  if (opts.apiKeys.length === 0) {
    app.log.warn('API_KEYS is not set: the API accepts unauthenticated callers (fine on a private network only)')
    return
  }
  const keys = opts.apiKeys.map(digest)
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/v1/')) return
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
    const given = m ? digest(m[1]!) : undefined
    if (!given || !keys.some((k) => timingSafeEqual(k, given))) {
      throw new GatewayError('GW_UNAUTHORIZED', 401, 'missing or unknown API key: send Authorization: Bearer <key>')
    }
  })
}

export default fp(authPlugin, { name: 'auth' })
