/**
 * A gateway for client tests in other languages (scripts/python-client.sh): the embedded
 * engine, in-process event ids, a key per scope set from API_KEYS if given, on a free port.
 * Prints `listening <url>` once it answers, and stops when its standard input closes.
 */
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const app = await buildApp({
  logger: false,
  config: loadConfig({ ...process.env, PORT: '0', SPICEDB_ENDPOINT: undefined, REDIS_URL: undefined, EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true' }),
})
const url = await app.listen({ port: 0, host: '127.0.0.1' })
console.log(`listening ${url}`)
process.stdin.resume()
process.stdin.on('end', () => void app.close().then(() => process.exit(0)))
