/**
 * Several gateway replicas over ONE authorization store, as production runs them: on the
 * remote engine each replica is its own app with its own gRPC connection to the same
 * `spicedb serve`; on the embedded engine (one process by nature) the replicas share the
 * engine object. Either way each replica has its own in-process state (idempotency map,
 * per-object event queue), so only what the engine guarantees keeps them consistent.
 */
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { buildTestApp, testEngine, type TestApp } from './app.js'
import { dockerAvailable, startContainerEngine } from './engine-containers.js'
import { remoteEnv, startRemoteEngine } from './engine-remote.js'

export async function buildReplicas(t: Test, n: number): Promise<TestApp[]> {
  if (testEngine() !== 'remote') {
    const first = await buildTestApp(t)
    const rest = await Promise.all(Array.from({ length: n - 1 }, () => buildTestApp(t, { engine: first.engine })))
    return [first, ...rest]
  }
  const server = dockerAvailable() ? await startContainerEngine() : await startRemoteEngine()
  t.comment(`engine: ${server.describe}; ${n} gateway replica${n === 1 ? '' : 's'}, one gRPC connection each`)
  const apps: TestApp[] = []
  t.teardown(async () => {
    for (const app of apps) await app.close()
    await server.close()
  })
  // One after the other: each start writes the schema if it differs, and the first one does.
  for (let i = 0; i < n; i++) apps.push(await buildApp({ logger: false, config: loadConfig(remoteEnv(server.endpoints, server.presharedKey)) }))
  return apps
}
