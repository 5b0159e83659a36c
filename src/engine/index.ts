/**
 * Chooses the adapter from configuration. The only place that knows both exist.
 */
import type { Config } from '../config.js'
import { createEmbeddedEngine } from './embedded.js'
import type { EnginePort } from './port.js'
import { createRemoteEngine } from './remote.js'

export async function createEngine(
  config: Pick<Config, 'engine' | 'engineTimeoutMs'> & Partial<Pick<Config, 'checkCacheMax' | 'history'>>,
): Promise<EnginePort> {
  const e = config.engine
  if (e.kind === 'remote') {
    return createRemoteEngine({
      endpoints: e.endpoints,
      presharedKey: e.presharedKey,
      insecure: e.insecure,
      timeoutMs: config.engineTimeoutMs,
    })
  }
  return createEmbeddedEngine({
    timeoutMs: config.engineTimeoutMs,
    datastore: e.datastore,
    library: e.library,
    decisionCacheMax: config.checkCacheMax,
    gcWindowMs: config.history?.retentionMs,
  })
}

export * from './port.js'

/**
 * A throwaway engine (embedded, in memory) holding `schema`: reconcile replays the platform's
 * events into one to see the state they make. The caller closes it.
 */
export async function createScratchEngine(schema: string, timeoutMs: number): Promise<EnginePort> {
  const engine = await createEmbeddedEngine({ timeoutMs })
  try {
    await engine.writeSchema(schema)
  } catch (err) {
    await engine.close()
    throw err
  }
  return engine
}
