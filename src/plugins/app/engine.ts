/**
 * The engine as a Fastify decorator: created (or injected by tests and benchmarks), given
 * the schema at start-up, wrapped so that every read sees the gateway's acknowledged writes
 * (ZedTokens kept in Redis when REDIS_URL is set, so replicas share them; in-process
 * otherwise), closed with the app.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import client from 'prom-client'
import { createEngine } from '../../engine/index.js'
import type { DecisionCache } from '../../engine/speed/decision-cache.js'
import { SpiceDbEngine } from '../../engine/spicedb-engine.js'
import type { EnginePort } from '../../engine/port.js'
import { ReadYourWritesEngine } from '../../engine/consistency/read-your-writes.js'
import { instrumentEngine, uninstrumented } from '../../engine/instrumented.js'
import { decodeZedToken } from '../../engine/consistency/revision.js'
import { MemoryZedTokenStore, type ZedTokenStore } from '../../engine/consistency/zedtoken-store.js'
import { RedisZedTokenStore } from '../../stores/redis-zedtoken-store.js'
import { readSchemaFile, syncSchema } from '../../domain/schema/sync.js'
import { caveatReach, sendNowOnlyWhereNeeded } from '../../domain/schema/caveat-reach.js'
import { ConfigError, type Config } from '../../config.js'
import { EngineError } from '../../engine/port.js'

declare module 'fastify' {
  interface FastifyInstance {
    engine: EnginePort
    /** the gateway's clock; section release times are judged against it */
    clock: () => Date
    schemaText: string
  }
}

export interface EnginePluginOptions {
  config: Config
  engine?: EnginePort
  clock?: () => Date
}

async function enginePlugin(app: FastifyInstance, opts: EnginePluginOptions) {
  const schemaText = await readSchemaFile(opts.config.schemaFile)
  const given = opts.engine instanceof ReadYourWritesEngine ? opts.engine.inner : opts.engine
  const engine = given ? uninstrumented(given) : await createEngine(opts.config)
  const owned = !opts.engine
  let tokens: ZedTokenStore
  try {
    const written = await syncSchema(engine, schemaText)
    tokens = await createTokenStore(app, engine)
    app.log.info(
      { engine: engine.description, schemaWritten: written, zedTokens: tokens.description, checkAnswersKept: decisionCacheOf(engine) ? 'until the next write' : 'no' },
      'authorization engine ready',
    )
  } catch (err) {
    if (owned) await engine.close()
    throw unmigrated(opts.config, err) ?? err
  }
  // `now` only where a caveat can read it: a fresh `now` per check defeats SpiceDB's caches.
  const measured = instrumentEngine(engine, app.metrics.engineCalls, app.tracer)
  app.decorate('engine', new ReadYourWritesEngine(sendNowOnlyWhereNeeded(measured, caveatReach(schemaText)), tokens))
  app.decorate('clock', opts.clock ?? (() => new Date()))
  app.decorate('schemaText', schemaText)
  if (owned) app.addHook('onClose', async () => engine.close())

  const cache = decisionCacheOf(engine)
  if (cache) {
    new client.Counter({
      name: 'trellis_check_answers_kept_total',
      help: 'checks answered from answers kept until the next write (hit), or asked of the engine (miss); embedded in-memory engine only',
      labelNames: ['result'],
      registers: [app.metrics.registry],
      collect() {
        this.reset()
        this.inc({ result: 'hit' }, cache.stats.hits)
        this.inc({ result: 'miss' }, cache.stats.misses)
      },
    })
  }
}

/**
 * The embedded engine on a database SpiceDB's migrations never ran on: its first read fails
 * on a missing table (Postgres: SQLSTATE 42P01), which reached the operator as a stack trace.
 * The library cannot migrate (neither ours nor the npm package exposes it), so the start
 * stops with the command that does. The URI is a secret: it is named, not printed.
 */
function unmigrated(config: Config, err: unknown): ConfigError | undefined {
  const e = config.engine
  if (e.kind !== 'embedded' || !e.datastore || !(err instanceof EngineError)) return undefined
  if (!/SQLSTATE 42P01|relation "[^"]+" does not exist/.test(err.message)) return undefined
  return new ConfigError(
    `SPICEDB_DATASTORE_URI: the ${e.datastore.engine} database has no SpiceDB tables (not migrated). Run ` +
      `\`spicedb datastore migrate head --datastore-engine ${e.datastore.engine} --datastore-conn-uri "$SPICEDB_DATASTORE_URI"\`` +
      ' with SpiceDB v1.54.0 (the embedded version), then start again (docs/engines.md)',
  )
}

/** the engine's decision cache, where it keeps check answers until the next write */
function decisionCacheOf(engine: EnginePort): DecisionCache | undefined {
  return engine instanceof SpiceDbEngine ? engine.decisionCache : undefined
}

/** Replicas over one datastore share one Redis key, named by the datastore's id. */
async function createTokenStore(app: FastifyInstance, engine: EnginePort): Promise<ZedTokenStore> {
  if (!app.redis) return new MemoryZedTokenStore()
  const datastoreId = decodeZedToken(await engine.headToken())?.datastoreId ?? ''
  return new RedisZedTokenStore(app.redis, { datastoreId })
}

export default fp(enginePlugin, { name: 'engine' })
