/**
 * Builds the gateway for a test, on the engine the run asks for (TRELLIS_TEST_ENGINE), and
 * closes it when the test ends. Every suite builds its app here so the engine matrix applies
 * to all of them.
 */
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp, type BuildAppOptions } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { startRemoteEngine } from './engine-remote.js'
import { dockerAvailable, startContainerEngine } from './engine-containers.js'

export type TestApp = FastifyInstance

export type TestEngine = 'embedded' | 'remote'

export function testEngine(): TestEngine {
  const e = process.env.TRELLIS_TEST_ENGINE ?? 'embedded'
  if (e !== 'embedded' && e !== 'remote') throw new Error(`TRELLIS_TEST_ENGINE=${e}: expected embedded or remote`)
  return e
}

let announced = false

/** Says once per test file which engine (and for remote, which kind of server) it runs on. */
function announce(t: Test, what: string) {
  if (announced) return
  announced = true
  t.comment(`engine: ${what}`)
}

/**
 * With TRELLIS_TEST_ENGINE=remote each app gets its own `spicedb serve` on a fresh Postgres
 * database (containers where Docker exists, local processes otherwise); teardown closes the
 * app, stops the server and drops the database, in that order.
 */
export async function buildTestApp(t: Test, options: Omit<BuildAppOptions, 'config'> = {}): Promise<TestApp> {
  // A test's engine lives as long as the test, so in-process event ids are enough on a server too.
  const env: Record<string, string | undefined> = {
    // no load shedding in a test process unless a suite asks for it: on a loaded CI machine the
    // suite's own work can keep the loop 99.5% busy, and a 503 GW_OVERLOADED is not what is tested
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    OVERLOAD_MAX_ELU_PERMILLE: '0',
    ...process.env,
    REDIS_URL: undefined,
    SPICEDB_ENDPOINT: undefined,
    EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true',
  }
  let server: { endpoints: string[]; presharedKey: string; describe: string; startMs: number; close(): Promise<void> } | undefined
  if (testEngine() === 'remote' && !options.engine) {
    server = dockerAvailable() ? await startContainerEngine() : await startRemoteEngine()
    Object.assign(env, {
      SPICEDB_ENDPOINT: server.endpoints.join(','),
      SPICEDB_PRESHARED_KEY: server.presharedKey,
      SPICEDB_INSECURE: 'true',
    })
  }
  announce(
    t,
    options.engine ? `injected (${options.engine.description})` : server ? `${server.describe}, ready in ${server.startMs} ms` : 'embedded (in-process)',
  )
  let app: TestApp
  try {
    app = await buildApp({ logger: false, ...options, config: loadConfig(env) })
  } catch (err) {
    await server?.close()
    throw err
  }
  t.teardown(async () => {
    await app.close()
    await server?.close()
  })
  return app
}

/**
 * A part a suite needs (Redis, Postgres, a SpiceDB server) is absent: skip on a laptop,
 * fail in CI, where .ci/run must have provided it.
 */
export function requirePart(t: Test, part: string, present: boolean): boolean {
  if (present) return true
  if (process.env.CI === 'true') t.fail(`${part} is required in CI but is not available`)
  else t.plan(0, `${part} is not available on this machine`)
  return false
}
