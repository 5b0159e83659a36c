/**
 * The same remote engine from containers, where a Docker engine exists: one Postgres and one
 * Redis container per test process, and per test a fresh database, a one-shot
 * `spicedb datastore migrate head` and an `authzed/spicedb` server. Kept small on purpose:
 * machines without Docker use engine-remote.ts, which runs the same tests.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import type { StartedNetwork, StartedTestContainer } from 'testcontainers'
import { SPICEDB_VERSION, waitUntilServing } from './engine-remote.js'

const IMAGE = `authzed/spicedb:${SPICEDB_VERSION}`

let docker: boolean | undefined

/**
 * A Docker engine answers: DOCKER_HOST is set, or `docker info` succeeds.
 * TRELLIS_TEST_DOCKER=false forces local processes.
 */
export function dockerAvailable(): boolean {
  if (docker !== undefined) return docker
  if (process.env.TRELLIS_TEST_DOCKER === 'false') docker = false
  else if (process.env.DOCKER_HOST) docker = true
  else {
    try {
      execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 })
      docker = true
    } catch {
      docker = false
    }
  }
  return docker
}

interface Shared {
  network: StartedNetwork
  postgres: StartedTestContainer
}

let shared: Promise<Shared> | undefined

function startShared(): Promise<Shared> {
  shared ??= (async () => {
    // Loaded only here: runs without Docker never pay for the library.
    const { GenericContainer, Network, Wait } = await import('testcontainers')
    const network = await new Network().start()
    const [postgres, redis] = await Promise.all([
      new GenericContainer('postgres:15')
        .withNetwork(network)
        .withNetworkAliases('postgres')
        .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start(),
      new GenericContainer('redis:7').withExposedPorts(6379).withWaitStrategy(Wait.forListeningPorts()).start(),
    ])
    // Suites that talk to Redis read this; the containers are the run's Redis too.
    process.env.TEST_REDIS_URL ??= `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`
    return { network, postgres }
  })()
  return shared
}

export async function startContainerEngine() {
  const started = Date.now()
  const { GenericContainer, Wait } = await import('testcontainers')
  const { network, postgres } = await startShared()
  const name = `trellis_t_${randomBytes(4).toString('hex')}`
  const psql = (sql: string) => postgres.exec(['psql', '-U', 'postgres', '-Atqc', sql])
  await psql(`CREATE DATABASE ${name}`)
  const uri = `postgres://postgres@postgres:5432/${name}?sslmode=disable`
  const datastore = ['--datastore-engine=postgres', `--datastore-conn-uri=${uri}`]
  await new GenericContainer(IMAGE)
    .withNetwork(network)
    .withCommand(['datastore', 'migrate', 'head', ...datastore])
    .withWaitStrategy(Wait.forOneShotStartup())
    .start()
  const presharedKey = randomBytes(12).toString('hex')
  const spicedb = await new GenericContainer(IMAGE)
    .withNetwork(network)
    .withExposedPorts(50051)
    .withCommand(['serve', `--grpc-preshared-key=${presharedKey}`, ...datastore, '--telemetry-endpoint=', '--skip-release-check', '--log-level=warn'])
    .withWaitStrategy(Wait.forListeningPorts())
    .start()
  const endpoint = `${spicedb.getHost()}:${spicedb.getMappedPort(50051)}`
  await waitUntilServing(endpoint, presharedKey)
  return {
    endpoints: [endpoint],
    presharedKey,
    startMs: Date.now() - started,
    describe: `remote: testcontainers ${IMAGE} on a postgres:15 container (database ${name})`,
    close: async () => {
      await spicedb.stop()
      await psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    },
  }
}
