import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { FEED_DEFAULTS, runFeed, type FeedOptions } from '../../domain/changes.js'
import { GatewayError, ProbeFinding, badRequest } from '../../domain/errors.js'
import { WatchSupport } from '../../domain/watch-support.js'
import { indexSchema } from '../../domain/events/schema-index.js'
import { publicPermissions } from '../../domain/permissions.js'
import { ZedToken, errorResponses } from '../../schemas/common.js'

const TYPE_LIST = '^[a-z][a-z0-9_]{1,62}[a-z0-9](,[a-z][a-z0-9_]{1,62}[a-z0-9])*$'

const routes: FastifyPluginAsyncTypebox<{ feed?: Partial<FeedOptions> }> = async (app, opts) => {
  const feed = { ...FEED_DEFAULTS, ...opts.feed }
  const schema = indexSchema(app.schemaText)
  // the head revision, as a fully consistent check answers it (any permission will do)
  const [probeType, probePermissions] = [...publicPermissions(app.schemaText)].find(([, p]) => p.length > 0)!
  const probe = { type: probeType, id: 'trellis-changes-probe' }
  const headToken = async () =>
    (await app.engine.check([{ resource: probe, permission: probePermissions[0]!, subject: { type: probeType, id: 'nobody' } }], { mode: 'fully_consistent' })).checkedAt
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
          'that falls too far behind gets a last `dropped` event (`resumeFrom`) and the feed ends; an engine failure ends it with an `error` event.',
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
      await watchSupport.check().catch((err: unknown) => {
        if (err instanceof ProbeFinding) throw new GatewayError('GW_ENGINE_UNSUPPORTED', 501, err.message)
      })
      const after = req.headers['last-event-id'] || req.query.after
      const controller = new AbortController()
      req.raw.on('close', () => controller.abort())
      reply.hijack()
      // connection: close, so a feed that ends (shutdown, a dropped reader) takes its socket with it
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'close' })
      const running = runFeed(app.engine, reply.raw, { types, after }, controller.signal, { ...feed, headToken })
      feeds.set(controller, running)
      const end = await running.finally(() => feeds.delete(controller))
      if (end !== 'closed') req.log.info({ end, after }, 'changes feed ended')
      if (!reply.raw.writableEnded) reply.raw.end()
      // a dropped reader that never reads again must not hold the socket (and its buffer)
      if (end === 'dropped') setTimeout(() => reply.raw.destroy(), feed.drainTimeoutMs).unref()
    },
  )
}

export default routes
