/**
 * Builds the gateway for a test, on the engine the run asks for (TRELLIS_TEST_ENGINE), and
 * closes it when the test ends. Every suite builds its app here so the engine matrix applies
 * to all of them.
 */
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp, type BuildAppOptions } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'

export type TestApp = FastifyInstance

export async function buildTestApp(t: Test, options: Omit<BuildAppOptions, 'config'> = {}): Promise<TestApp> {
  const config = loadConfig({ ...process.env, REDIS_URL: undefined, SPICEDB_ENDPOINT: undefined })
  const app = await buildApp({ logger: false, ...options, config })
  t.teardown(() => app.close())
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
