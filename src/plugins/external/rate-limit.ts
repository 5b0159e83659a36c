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
 * When Redis is down or slower than STORE_WAIT_MS the counters of this process stand in:
 * limits stay per replica rather than shared, and checks never wait on Redis. A blocked
 * address is also remembered here, so a good caller's request costs no extra round trip.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import { GatewayError } from '../../domain/wire/errors.js'

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
/** how long a request waits for the shared store before this process's counters decide */
const STORE_WAIT_MS = 200

export const rateLimited = (retryAfterSeconds: number, what: string) =>
  new GatewayError('GW_RATE_LIMITED', 429, `${what}; retry after ${retryAfterSeconds} s`, undefined, { retryAfter: retryAfterSeconds })

type Limiter = (req: FastifyRequest) => Promise<{ exceeded: boolean; ttlMs: number }>
type Answer = (err: Error | null, res: { current: number; ttl: number }) => void

/**
 * Fixed-window counters in this process, in place of the plugin's LocalStore: that one hands
 * every caller its live counter object, so concurrent requests read the count after later
 * increments (in a burst of 500 failures every one answered 429, the first 300 included).
 * Each answer here is a copy. The oldest entries go first past MAX_COUNTERS.
 */
const MAX_COUNTERS = 100_000
class MemoryStore {
  private readonly counters = new Map<string, { current: number; resetAt: number }>()
  incr(key: string, cb: Answer, timeWindow: number) {
    const now = Date.now()
    let c = this.counters.get(key)
    if (!c || c.resetAt <= now) c = { current: 0, resetAt: now + timeWindow }
    c.current++
    this.counters.delete(key)
    this.counters.set(key, c)
    if (this.counters.size > MAX_COUNTERS) this.counters.delete(this.counters.keys().next().value!)
    cb(null, { current: c.current, ttl: c.resetAt - now })
  }
  read(key: string, cb: Answer) {
    const c = this.counters.get(key)
    const now = Date.now()
    cb(null, c && c.resetAt > now ? { current: c.current, ttl: c.resetAt - now } : { current: 0, ttl: 0 })
  }
  child() {
    return new MemoryStore()
  }
}

/** the two limiters over one store: @fastify/rate-limit registered in `scope` */
async function limiters(scope: FastifyInstance, opts: RateLimitSettings, redis?: FastifyInstance['redis']) {
  await scope.register(rateLimit, {
    global: false,
    timeWindow: opts.windowSeconds * 1000,
    skipOnError: false,
    nameSpace: 'trellis:rate-limit:',
    ...(redis ? { redis } : { store: MemoryStore }),
  })
  const wrap =
    (create: ReturnType<FastifyInstance['createRateLimit']>): Limiter =>
    async (req) => {
      const r = await create(req)
      return r.isAllowed ? { exceeded: false, ttlMs: 0 } : { exceeded: r.isExceeded, ttlMs: r.ttl }
    }
  return {
    failures: wrap(scope.createRateLimit({ max: opts.authFailures, keyGenerator: (req) => `auth-failures:${normalizeIP(req.ip)}` })),
    perKey: wrap(scope.createRateLimit({ max: opts.perKey, keyGenerator: (req) => `key:${req.caller?.keyName ?? 'anonymous'}` })),
  }
}

async function rateLimitPlugin(app: FastifyInstance, opts: RateLimitSettings) {
  const windowMs = opts.windowSeconds * 1000
  let local!: Awaited<ReturnType<typeof limiters>>
  // encapsulated, so that its createRateLimit (memory) is not the app's (Redis)
  await app.register(async (scope) => {
    local = await limiters(scope, opts)
  })
  const redis = app.redis
  const shared = redis ? await limiters(app, opts, redis) : local

  /** the shared count when Redis answers in time, this process's otherwise */
  const count = async (which: 'failures' | 'perKey', req: FastifyRequest) => {
    if (shared === local || redis?.status !== 'ready') return local[which](req)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STORE_WAIT_MS)))
    try {
      const r = await Promise.race([shared[which](req), late])
      if (r !== 'late') return r
      app.log.warn('rate-limit store slow to answer: counting in this process')
    } catch (err) {
      app.log.warn({ err }, 'rate-limit store failed: counting in this process')
    } finally {
      clearTimeout(timer)
    }
    return local[which](req)
  }

  const blocked = new Map<string, number>()
  const refuse = (reply: FastifyReply, retryAfterMs: number, what: string): never => {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000))
    reply.header('retry-after', String(seconds))
    throw rateLimited(seconds, what)
  }
  const TOO_MANY_FAILURES = 'too many failed authentications from this address'

  app.decorate('callerLimits', {
    refuseBlocked(req, reply) {
      if (opts.authFailures === 0 || blocked.size === 0) return
      const ip = normalizeIP(req.ip)
      const until = blocked.get(ip)
      if (until === undefined) return
      if (until > Date.now()) refuse(reply, until - Date.now(), TOO_MANY_FAILURES)
      blocked.delete(ip)
    },
    async failed(req, reply) {
      if (opts.authFailures === 0) return
      const r = await count('failures', req)
      if (!r.exceeded) return
      const ip = normalizeIP(req.ip)
      blocked.delete(ip) // re-inserted last: the map's order is the order of expiry
      blocked.set(ip, Date.now() + (r.ttlMs || windowMs))
      if (blocked.size > MAX_BLOCKED) blocked.delete(blocked.keys().next().value!)
      refuse(reply, r.ttlMs || windowMs, TOO_MANY_FAILURES)
    },
    async request(req, reply, keyName) {
      if (opts.perKey === 0) return
      const r = await count('perKey', req)
      if (r.exceeded) refuse(reply, r.ttlMs || windowMs, `key ${keyName} is over its rate limit`)
    },
  } satisfies CallerLimits)
}

export default fp(rateLimitPlugin, { name: 'rate-limit' })
