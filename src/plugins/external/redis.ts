/**
 * The Redis client as `app.redis` (ioredis), only when REDIS_URL is set: connected before the
 * app is ready, probed by /readyz, closed with the app. A client can be injected instead
 * (the caller then owns it). A Redis that would lose the stream or the idempotency records
 * (no persistence, or eviction) stops the start and fails /readyz, unless REDIS_ALLOW_DATA_LOSS.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { within } from '../../timing.js'
import { ConfigError } from '../../config.js'
import { ProbeFinding } from '../../domain/wire/errors.js'
import { PERSISTENCE_ADVICE, persistenceCaution, persistenceProblem, readPersistence } from '../../stores/redis-persistence.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** absent when no REDIS_URL is configured */
    redis?: Redis
  }
}

export interface RedisPluginOptions {
  url?: string
  client?: Redis
  /** accept a Redis without persistence or with eviction (default: app.config.redisAllowDataLoss) */
  allowDataLoss?: boolean
}

const PROBE_TIMEOUT_MS = 1000

async function redisPlugin(app: FastifyInstance, opts: RedisPluginOptions) {
  if (!opts.url && !opts.client) return
  if (app.hasDecorator('redis')) throw new Error('the redis plugin is already registered')
  const redis = opts.client ?? new Redis(opts.url!, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 3 })
  if (!opts.client) {
    try {
      await redis.connect()
    } catch (err) {
      redis.disconnect()
      throw new Error(`cannot connect to REDIS_URL: ${(err as Error).message}`, { cause: err })
    }
    app.addHook('onClose', async () => {
      await redis.quit().catch(() => redis.disconnect())
    })
  }
  redis.on('error', (err) => app.log.warn({ err }, 'redis connection error'))
  const allowDataLoss = opts.allowDataLoss ?? app.config?.redisAllowDataLoss ?? false
  const problem = async () => {
    const p = await readPersistence(redis)
    return { problem: persistenceProblem(p), caution: persistenceCaution(p), p }
  }
  try {
    const found = await problem()
    if (found.problem && !allowDataLoss)
      throw new ConfigError(`Redis at ${redacted(opts.url)} would lose the events stream and the idempotency records: ${found.problem}. ${PERSISTENCE_ADVICE}`)
    if (found.problem) app.log.warn({ persistence: found.p }, `REDIS_ALLOW_DATA_LOSS=true: ${found.problem}`)
    else if (found.caution) app.log.warn({ persistence: found.p }, found.caution)
  } catch (err) {
    if (!opts.client) redis.disconnect()
    throw err
  }
  app.decorate('redis', redis)
  // Persistence is checked again on every probe: a Redis restarted with other settings shows here.
  const probe = async () => {
    await redis.ping()
    const { problem: p } = await problem()
    if (p && !allowDataLoss) throw new ProbeFinding(`redis would lose the events stream and idempotency records: ${p}`)
  }
  app.readinessProbes.push({
    name: 'redis',
    check: () =>
      within(probe(), PROBE_TIMEOUT_MS, () => {
        throw new Error('redis did not answer PING')
      }),
  })
  app.log.info({ redis: redacted(opts.url) }, 'redis connected')
}

/** the URL without its password, for logs */
function redacted(url: string | undefined): string {
  if (!url) return 'injected client'
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return 'redis'
  }
}

export default fp(redisPlugin, { name: 'redis' })
