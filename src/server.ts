/**
 * Starts the gateway: reads the configuration, builds the app, listens, and shuts down
 * gracefully on signals. A bad setting or a schema SpiceDB refuses stops the start.
 */
import cluster from 'node:cluster'
import closeWithGrace from 'close-with-grace'
import { isClusterWorker, listenFailure, onStopRequest, runPrimary, serveForPrimary } from './cluster.js'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { SchemaError } from './domain/schema/sync.js'

async function main() {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`trellis: ${err.message}`)
      process.exit(1)
    }
    throw err
  }

  // WORKERS > 1: this process forks the gateways and serves nothing itself (src/cluster.ts)
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config)

  let app
  try {
    app = await buildApp({ config })
  } catch (err) {
    // ConfigError here: a store that does not meet the configuration (e.g. Redis without persistence)
    if (err instanceof SchemaError || err instanceof ConfigError) {
      console.error(`trellis: ${err.message}`)
      process.exit(1)
    }
    throw err
  }

  // SIGHUP re-reads API_KEYS_FILE (plugins/app/api-keys.ts) instead of stopping the server
  let stopping = false
  const grace = closeWithGrace({ delay: 10_000, skip: config.apiKeysFile ? ['SIGHUP'] : [] }, async ({ signal, err }) => {
    stopping = true
    if (err) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })
  // A worker stops when the primary asks (src/cluster.ts); one asked while it was still starting
  // is asked again once it listens.
  if (isClusterWorker()) {
    onStopRequest(() => {
      if (!stopping) void grace.close()
    })
    // the primary listens and hands this worker its connections
    return serveForPrimary(app.server)
  }

  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    const reason = listenFailure(err, config.host, config.port)
    if (!reason) throw err
    console.error(`trellis: ${reason}`)
    await app.close()
    process.exit(1)
  }
}

await main()
