/**
 * The Redis client as `app.redis` (ioredis), only when REDIS_URL is set: connected before the
 * app is ready, probed by /readyz, closed with the app. A client can be injected instead
 * (the caller then owns it).
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** absent when no REDIS_URL is configured */
    redis?: Redis
  }
}

export interface RedisPluginOptions {
  url?: string
  client?: Redis
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
      throw new Error(`cannot connect to REDIS_URL: ${(err as Error).message}`)
    }
    app.addHook('onClose', async () => {
      await redis.quit().catch(() => redis.disconnect())
    })
  }
  redis.on('error', (err) => app.log.warn({ err }, 'redis connection error'))
  app.decorate('redis', redis)
  app.readinessProbes.push({
    name: 'redis',
    check: () =>
      Promise.race([
        redis.ping().then(() => undefined),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('redis did not answer PING')), PROBE_TIMEOUT_MS).unref()),
      ]),
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
