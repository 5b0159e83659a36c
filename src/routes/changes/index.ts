import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import client from 'prom-client'
import { ChangeHub } from '../../domain/audit/change-hub.js'
import { FEED_DEFAULTS, runFeed, type FeedOptions } from '../../domain/audit/changes-feed.js'
import { GatewayError, badRequest } from '../../domain/wire/errors.js'
import { WatchSupport } from '../../domain/audit/watch-support.js'
import { indexSchema } from '../../domain/schema/subject-uses.js'
import { decodeZedToken } from '../../engine/consistency/revision.js'
import { rateLimited } from '../../plugins/external/rate-limit.js'
import { ZedToken, errorResponses } from '../../schemas/common.js'

const TYPE_LIST = '^[a-z][a-z0-9_]{1,62}[a-z0-9](,[a-z][a-z0-9_]{1,62}[a-z0-9])*$'

export interface FeedLimits {
  /** open feeds per key (FEEDS_MAX_PER_KEY) */
  maxPerKey: number
  /** open feeds in this process (FEEDS_MAX) */
  maxTotal: number
}

/** a refused feed is asked to come back after this: feeds last, but readers reconnect */
const RETRY_AFTER_SECONDS = 5

const routes: FastifyPluginAsyncTypebox<{ feed?: Partial<FeedOptions>; limits?: FeedLimits }> = async (app, opts) => {
  const feed = { ...FEED_DEFAULTS, ...opts.feed }
  const limits = opts.limits ?? { maxPerKey: 16, maxTotal: 256 }
  const schema = indexSchema(app.schemaText)
  // one Watch for every feed of this process; the engine's head token is verified to cover
  // the gateway's acknowledged writes (src/engine/consistency/read-your-writes.ts)
  const hub = new ChangeHub(app.engine, { ringBatches: feed.ringBatches })
  // a resume token must be this datastore's: one from elsewhere (another datastore, an
  // in-memory engine before a restart) is refused, not echoed back as the feed's start
  let datastoreId: Promise<string | undefined> | undefined
  const ownDatastore = () =>
    (datastoreId ??= app.engine.headToken().then(
      (t) => decodeZedToken(t)?.datastoreId,
      () => ((datastoreId = undefined), undefined),
    ))
  const perKey = new Map<string, number>()
  let total = 0
  const registers = [app.metrics.registry]
  // what an operator watches for (and the tests read): feeds open, the Watches they cost, why they end
  // open feeds: app.metrics.openFeeds (plugins/app/metrics.ts)
  new client.Gauge({
    name: 'trellis_changes_watches_open',
    help: "engine Watches the changes feeds hold open: the hub's one, and catch-ups of old resumes",
    registers,
    collect() {
      this.set(hub.stats.open)
    },
  })
  new client.Counter({
    name: 'trellis_changes_watches_opened_total',
    help: 'engine Watches the changes feeds opened',
    registers,
    collect() {
      this.reset()
      this.inc(hub.stats.opened)
    },
  })
  const ended = new client.Counter({
    name: 'trellis_changes_feeds_ended_total',
    help: 'changes feeds that ended, by why (closed by the reader, dropped as too slow, engine error, key revoked)',
    labelNames: ['end'],
    registers,
  })
  const refused = new client.Counter({
    name: 'trellis_changes_feeds_refused_total',
    help: 'changes feeds refused at a cap (per_key: FEEDS_MAX_PER_KEY, total: FEEDS_MAX)',
    labelNames: ['cap'],
    registers,
  })
  // /readyz says when the datastore cannot watch (degraded: checks still work)
  const watchSupport = new WatchSupport(app.engine)
  app.readinessProbes.push({ name: 'changes', optional: true, check: () => watchSupport.check() })
  // open feeds end when the app closes, so shutdown never waits on a reader
  const feeds = new Map<AbortController, Promise<unknown>>()
  app.addHook('preClose', async () => {
    if (feeds.size === 0) return
    for (const f of feeds.keys()) f.abort()
    await Promise.allSettled(feeds.values())
    // let the watch cancellations reach the engine before it closes: the embedded library's
    // dispose waits for its open streams
    await new Promise((resolve) => setTimeout(resolve, 100))
  })

  app.get(
    '/v1/changes',
    {
      config: { scope: 'audit' },
      schema: {
        tags: ['audit'],
        summary: 'Relationship changes as server-sent events, for caches that must know when to drop decisions',
        description:
          'Needs `Accept: text/event-stream`. A `ready` event first, `id:` the revision the feed starts after; then one `change` event per SpiceDB revision, `id:` its ZedToken, data ' +
          '`{token, changes: [{operation, relationship}]}`. Reconnect with `Last-Event-ID` (or `?after=`) to resume right ' +
          'after the last revision seen. `types` filters by resource type. Comments (`: heartbeat`) keep the feed alive. A reader ' +
          'that falls too far behind gets a last `dropped` event (`resumeFrom`) and the feed ends; an engine failure ends it with an `error` event, and so does ' +
          'a key that is removed or loses `audit` while the feed is open (`code` GW_UNAUTHORIZED or GW_MISSING_SCOPE; re-checked on every key reload and every ' +
          'FEEDS_REAUTH_SECONDS). Open feeds are capped per key (FEEDS_MAX_PER_KEY) and in all (FEEDS_MAX): past a cap, 429 GW_RATE_LIMITED with `retry-after`. ' +
          'A `Last-Event-ID` or `after` that is not a ZedToken of this datastore is a 400 naming it.',
        querystring: Type.Object(
          {
            types: Type.Optional(Type.String({ pattern: TYPE_LIST, description: 'comma-separated resource types, e.g. client,program' })),
            after: Type.Optional(ZedToken),
          },
          { additionalProperties: false },
        ),
        headers: Type.Object({ 'last-event-id': Type.Optional(ZedToken) }),
        // the stream is text/event-stream; refusals (400, 401, 406, ...) are JSON like everywhere
        response: {
          200: { description: 'server-sent events', content: { 'text/event-stream': { schema: Type.String({ description: 'text/event-stream' }) } } },
          406: Type.Ref('ErrorResponse'),
          501: { description: 'the datastore cannot serve Watch (on Postgres: track_commit_timestamp is off)', ...Type.Ref('ErrorResponse') },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const types = req.query.types?.split(',')
      const unknown = types?.find((t) => schema.relationsOf(t).length === 0)
      if (unknown) throw badRequest('types', `the schema has no type ${JSON.stringify(unknown)}`)
      if (!/text\/event-stream/.test(req.headers.accept ?? '')) {
        throw new GatewayError('GW_NOT_ACCEPTABLE', 406, 'accept: this feed is text/event-stream; send Accept: text/event-stream', 'accept')
      }
      // a datastore that cannot watch is refused before the stream starts, saying why
      const cannotWatch = watchSupport.recentRefusal()
      if (cannotWatch) throw new GatewayError('GW_ENGINE_UNSUPPORTED', 501, cannotWatch)
      const [field, after] = req.headers['last-event-id'] ? ['last-event-id', req.headers['last-event-id']] : ['after', req.query.after]
      if (after !== undefined) {
        const decoded = decodeZedToken(after)
        if (!decoded) throw badRequest(field, 'not a ZedToken this gateway handed out; reconnect without it to start at the head')
        const own = await ownDatastore()
        if (own !== undefined && decoded.datastoreId !== own)
          throw badRequest(field, 'a ZedToken of another datastore (or of an in-memory engine before a restart); reconnect without it to start at the head')
      }
      // Open feeds are capped per key and in all, counted before the stream starts: an idle
      // feed costs a socket and up to its queue bound (maxBufferedBytes) in this process.
      const who = req.caller?.keyName
      const mine = who === undefined ? 0 : (perKey.get(who) ?? 0)
      if (total >= limits.maxTotal || (who !== undefined && mine >= limits.maxPerKey)) {
        refused.inc({ cap: total >= limits.maxTotal ? 'total' : 'per_key' })
        reply.header('retry-after', String(RETRY_AFTER_SECONDS))
        throw rateLimited(
          RETRY_AFTER_SECONDS,
          total >= limits.maxTotal
            ? `${limits.maxTotal} changes feeds are open, the most this gateway holds (FEEDS_MAX)`
            : `key ${who} has ${mine} changes feeds open, the most one key may (FEEDS_MAX_PER_KEY)`,
        )
      }
      total++
      if (who !== undefined) perKey.set(who, mine + 1)
      const release = () => {
        total--
        if (who === undefined) return
        const n = (perKey.get(who) ?? 1) - 1
        if (n > 0) perKey.set(who, n)
        else perKey.delete(who)
      }
      const controller = new AbortController()
      req.raw.on('close', () => controller.abort())
      reply.hijack()
      // connection: close, so a feed that ends (shutdown, a dropped reader) takes its socket with it
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        connection: 'close',
      })
      const keepAuthorized = (onLost: Parameters<typeof req.keepAuthorized>[0]) => req.keepAuthorized(onLost)
      const running = runFeed({ hub, engine: app.engine }, reply.raw, { types, after }, controller.signal, { ...feed, keepAuthorized })
      feeds.set(controller, running)
      app.metrics.openFeeds.inc()
      const end = await running.finally(() => {
        feeds.delete(controller)
        app.metrics.openFeeds.dec()
        release()
      })
      ended.inc({ end })
      if (end !== 'closed') req.log.info({ end, after }, 'changes feed ended')
      if (!reply.raw.writableEnded) reply.raw.end()
      // a reader that never reads again must not hold the socket (and what is queued for it):
      // one that reads gets its last event within the drain timeout, then the socket closes
      if (end !== 'closed') setTimeout(() => reply.raw.writableFinished || reply.raw.destroy(), feed.drainTimeoutMs).unref()
    },
  )
}

export default routes
