/**
 * The engine as a Fastify decorator: created (or injected by tests and benchmarks), given
 * the schema at start-up, closed with the app.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createEngine } from '../../engine/index.js'
import type { EnginePort } from '../../engine/port.js'
import { readSchemaFile, syncSchema } from '../../domain/schema-sync.js'
import { caveatReach, sendNowOnlyWhereNeeded } from '../../domain/caveat-reach.js'
import type { Config } from '../../config.js'

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
  const engine = opts.engine ?? (await createEngine(opts.config))
  const owned = !opts.engine
  try {
    const written = await syncSchema(engine, schemaText)
    app.log.info({ engine: engine.description, schemaWritten: written }, 'authorization engine ready')
  } catch (err) {
    if (owned) await engine.close()
    throw err
  }
  // `now` only where a caveat can read it: a fresh `now` per check defeats SpiceDB's caches.
  app.decorate('engine', sendNowOnlyWhereNeeded(engine, caveatReach(schemaText)))
  app.decorate('clock', opts.clock ?? (() => new Date()))
  app.decorate('schemaText', schemaText)
  if (owned) app.addHook('onClose', async () => engine.close())
}

export default fp(enginePlugin, { name: 'engine' })
