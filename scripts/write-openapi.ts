/**
 * Writes openapi.yaml from the route schemas of the running app: the same document the
 * service serves at /openapi.json. `npm run openapi` after changing a route; a test fails
 * when the committed file drifts.
 */
import { writeFile } from 'node:fs/promises'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const app = await buildApp({ logger: false, config: loadConfig({ ...process.env, SPICEDB_ENDPOINT: undefined, REDIS_URL: undefined }) })
try {
  const yaml = app.swagger({ yaml: true })
  const target = new URL('../openapi.yaml', import.meta.url)
  await writeFile(target, yaml)
  console.log(`wrote ${target.pathname}`)
} finally {
  await app.close()
}
