/**
 * Rate limits for callers (@fastify/rate-limit), as `app.callerLimits`, used by the auth
 * plugin once it knows who is calling:
 *
 * - failed authentication per client address: past RATE_LIMIT_AUTH_FAILURES in a window, the
 *   address is refused with 429 whatever key it sends, so guessing keys gains nothing, and a
 *   caller at another address is untouched;
 * - requests per key: past RATE_LIMIT_PER_KEY in a window, that key gets 429.
 *
 * Counters live in Redis when REDIS_URL is set (replicas share them), in memory otherwise.
 * A blocked address is also remembered here, so the requests of good callers cost no store
 * round trip; across replicas an address is blocked on each one at its first failure there.
 * A store that fails lets requests through (logged): limits protect capacity, the key
 * check itself never depends on them.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import { GatewayError } from '../../domain/errors.js'

export interface RateLimitSettings {
  /** the window both limits count in, in seconds */
  windowSeconds: number
  /** failed authentications per client address and window; 0: no limit */
  authFailures: number
  /** requests per key and window; 0: no limit */
  perKey: number
}

export interface CallerLimits {
  /** refuses (429) an address that is over its failed-authentication limit */
  refuseBlocked(req: FastifyRequest, reply: FastifyReply): void
  /** counts a failed authentication of this address; 429 when it goes over the limit */
  failed(req: FastifyRequest, reply: FastifyReply): Promise<void>
  /** counts a request of this key; 429 when it goes over the limit */
  request(req: FastifyRequest, reply: FastifyReply, keyName: string): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    callerLimits: CallerLimits
  }
}

/** the most addresses remembered as blocked; the oldest are forgotten first */
const MAX_BLOCKED = 10_000

export const rateLimited = (retryAfterSeconds: number, what: string) =>
  new GatewayError('GW_RATE_LIMITED', 429, `${what}; retry after ${retryAfterSeconds} s`, undefined, { retryAfter: retryAfterSeconds })

async function rateLimitPlugin(app: FastifyInstance, opts: RateLimitSettings) {
  const timeWindow = opts.windowSeconds * 1000
  await app.register(rateLimit, {
    global: false,
    timeWindow,
    skipOnError: true,
    nameSpace: 'trellis:rate-limit:',
    ...(app.redis ? { redis: app.redis } : {}),
  })
  const address = (req: FastifyRequest) => normalizeIP(req.ip)
  const failures = app.createRateLimit({ max: opts.authFailures, keyGenerator: (req) => `auth-failures:${address(req)}` })
  const perKey = app.createRateLimit({
    max: opts.perKey,
    keyGenerator: (req) => `key:${req.caller?.keyName ?? 'anonymous'}`,
  })
  const blocked = new Map<string, number>()

  const refuse = (reply: FastifyReply, retryAfter: number, what: string): never => {
    const seconds = Math.max(1, retryAfter)
    reply.header('retry-after', String(seconds))
    throw rateLimited(seconds, what)
  }

  app.decorate('callerLimits', {
    refuseBlocked(req, reply) {
      if (opts.authFailures === 0 || blocked.size === 0) return
      const ip = address(req)
      const until = blocked.get(ip)
      if (until === undefined) return
      if (until <= Date.now()) {
        blocked.delete(ip)
        return
      }
      refuse(reply, Math.ceil((until - Date.now()) / 1000), 'too many failed authentications from this address')
    },
    async failed(req, reply) {
      if (opts.authFailures === 0) return
      const r = await failures(req)
      if (r.isAllowed || !r.isExceeded) return
      const ip = address(req)
      blocked.delete(ip)
      blocked.set(ip, Date.now() + (r.ttl || timeWindow))
      if (blocked.size > MAX_BLOCKED) blocked.delete(blocked.keys().next().value!)
      refuse(reply, r.ttlInSeconds || opts.windowSeconds, 'too many failed authentications from this address')
    },
    async request(req, reply, keyName) {
      if (opts.perKey === 0) return
      const r = await perKey(req)
      if (!r.isAllowed && r.isExceeded) refuse(reply, r.ttlInSeconds || opts.windowSeconds, `key ${keyName} is over its rate limit`)
    },
  } satisfies CallerLimits)
}

export default fp(rateLimitPlugin, { name: 'rate-limit' })
