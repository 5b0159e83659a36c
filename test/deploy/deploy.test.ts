/**
 * The Kubernetes manifests in deploy/, checked for how they fit together: what kubeconform
 * (scripts/kubeconform.sh) cannot see. Each object is valid on its own there; here the
 * selectors, names, ports, secret keys and versions must agree across objects, and the
 * gateway's settings must load.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { loadConfig } from '../../src/config.js'
import { cursorAcrossReplicas } from '../helpers/cursor-replicas.js'

const root = new URL('../../', import.meta.url).pathname
const deployDir = join(root, 'deploy')

// Loose on purpose: these are parsed YAML, shaped only by the checks below.
type Obj = Record<string, any>
interface Manifest extends Obj {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string> }
  file: string
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return yamlFiles(path)
    return /\.ya?ml$/.test(name) ? [path] : []
  })
}

const manifests: Manifest[] = yamlFiles(deployDir).flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null)
    .map((d) => ({ ...d, file: relative(root, file) }) as Manifest),
)
const one = (kind: string, name: string, file?: RegExp): Manifest => {
  const found = manifests.filter((m) => m.kind === kind && m.metadata?.name === name && (!file || file.test(m.file)))
  if (found.length !== 1) throw new Error(`expected one ${kind}/${name}, found ${found.length}`)
  return found[0]!
}
const pinned = /github\.com\/authzed\/spicedb (v[0-9.]+)/.exec(readFileSync(join(root, 'tools/spicedb/go.mod'), 'utf8'))?.[1]
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v)

const gateway = one('Deployment', 'trellis-gateway')
const gatewayPod = gateway.spec.template
const gatewayContainer = gatewayPod.spec.containers[0]
const secrets = manifests.filter((m) => m.kind === 'Secret')

t.test('every document is a named Kubernetes object in the trellis namespace', async (t) => {
  t.ok(manifests.length >= 15)
  for (const m of manifests) {
    t.ok(m.apiVersion && m.kind, `${m.file}: apiVersion and kind`)
    if (m.kind === 'Kustomization') continue
    t.ok(m.metadata?.name, `${m.file}: ${m.kind} has a name`)
    if (m.kind !== 'Namespace') t.equal(m.metadata.namespace, 'trellis', `${m.file}: ${m.kind}/${m.metadata.name} namespace`)
  }
})

t.test('each kustomization lists existing resources, and every manifest is listed', async (t) => {
  const listed = new Set<string>()
  for (const k of manifests.filter((m) => m.kind === 'Kustomization')) {
    const dir = join(root, k.file, '..')
    for (const r of k.resources as string[]) {
      const path = join(dir, r)
      const isDir = statSync(path, { throwIfNoEntry: false })?.isDirectory()
      t.ok(isDir ? statSync(join(path, 'kustomization.yaml'), { throwIfNoEntry: false }) : statSync(path, { throwIfNoEntry: false }), `${k.file}: ${r} exists`)
      if (!isDir) listed.add(relative(root, path))
    }
  }
  const unlisted = [...new Set(manifests.map((m) => m.file))].filter(
    (f) => !listed.has(f) && !f.endsWith('kustomization.yaml') && f !== 'deploy/secrets.example.yaml',
  )
  t.same(unlisted, [], 'no manifest is left out of a kustomization')
  for (const entry of ['deploy/kustomization.yaml', 'deploy/plain/kustomization.yaml']) {
    t.ok(
      manifests.some((m) => m.kind === 'Kustomization' && m.file === entry),
      `${entry}: a deployable entry point`,
    )
  }
})

t.test('the gateway Deployment: replicas, probes, resources, non-root read-only', async (t) => {
  t.equal(gateway.spec.replicas, undefined, 'no replicas: each apply would reset what the HPA scaled to')
  const hpa = one('HorizontalPodAutoscaler', 'trellis-gateway')
  t.equal(hpa.spec.scaleTargetRef.name, gateway.metadata.name, 'an HPA owns the count')
  t.ok(hpa.spec.minReplicas >= 2, 'at least two replicas, so a rollout or a node loss never takes the only one')
  t.ok(matches(gateway.spec.selector.matchLabels, gatewayPod.metadata.labels), 'selector matches the pod labels')
  const port = gatewayContainer.ports.find((p: Obj) => p.name === 'http')
  t.equal(port?.containerPort, 8080)
  t.match(gatewayContainer.livenessProbe, { httpGet: { path: '/healthz', port: 'http' } })
  t.match(gatewayContainer.readinessProbe, { httpGet: { path: '/readyz', port: 'http' } })
  t.ok(gatewayContainer.resources?.requests?.cpu && gatewayContainer.resources?.requests?.memory, 'requests set (the HPA needs cpu)')
  t.ok(gatewayContainer.resources?.limits?.memory, 'memory limit set')
  t.match(gatewayPod.spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } })
  t.match(gatewayContainer.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } })
  t.notMatch(gatewayContainer.image, /:latest$/)
})

t.test('gateway secrets come from Secrets whose templates have those keys', async (t) => {
  const fromSecret: Record<string, { name: string; key: string }> = Object.fromEntries(
    (gatewayContainer.env as Obj[]).filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom.secretKeyRef]),
  )
  t.same(Object.keys(fromSecret).sort(), ['API_KEYS', 'CURSOR_SECRET', 'REDIS_URL', 'SPICEDB_PRESHARED_KEY'])
  for (const [env, ref] of Object.entries(fromSecret)) {
    const secret = secrets.find((s) => s.metadata.name === ref.name)
    t.ok(secret?.stringData?.[ref.key], `${env}: Secret ${ref.name} has key ${ref.key}`)
  }
  const configMap = one('ConfigMap', gatewayContainer.envFrom[0].configMapRef.name)
  for (const key of Object.keys(configMap.data)) t.notMatch(key, /KEY|PASSWORD|SECRET|TOKEN|REDIS_URL/, `${key} is not a secret`)
})

t.test('the gateway settings load and point at the SpiceDB Service on its gRPC port', async (t) => {
  const configMap = one('ConfigMap', gatewayContainer.envFrom[0].configMapRef.name)
  const env: Record<string, string> = { ...configMap.data }
  for (const e of gatewayContainer.env as Obj[]) {
    const ref = e.valueFrom?.secretKeyRef
    env[e.name] = ref ? secrets.find((s) => s.metadata.name === ref.name)!.stringData[ref.key] : e.value
  }
  const config = loadConfig(env)
  t.equal(config.port, 8080)
  t.ok(config.apiKeys.length >= 1, 'callers must authenticate')
  t.equal(config.host, '0.0.0.0')
  if (config.engine.kind !== 'remote') throw new Error('expected the remote engine')
  const [host, port] = config.engine.endpoints[0]!.split(':')
  const [service, namespace] = host!.split('.')
  t.equal(namespace, 'trellis')
  const plainService = one('Service', service!)
  t.ok(
    plainService.spec.ports.some((p: Obj) => p.name === 'grpc' && String(p.port) === port),
    'the plain Service serves gRPC there',
  )
  t.equal(one('SpiceDBCluster', service!).metadata.name, service, 'the operator names its Service after the cluster')
  t.equal(port, '50051', 'the operator serves gRPC on 50051')
})

/** the gateway's environment as a pod gets it: the ConfigMap, then env with Secret values filled in */
function gatewayEnv(): Record<string, string> {
  const configMap = one('ConfigMap', gatewayContainer.envFrom[0].configMapRef.name)
  const env: Record<string, string> = { ...configMap.data }
  for (const e of gatewayContainer.env as Obj[]) {
    const ref = e.valueFrom?.secretKeyRef
    env[e.name] = ref ? secrets.find((s) => s.metadata.name === ref.name)!.stringData[ref.key] : e.value
  }
  return env
}

t.test('replicas (the HPA runs 2+) share CURSOR_SECRET: a cursor from one is accepted by another', async (t) => {
  const config = loadConfig(gatewayEnv())
  t.ok(config.cursorSecret, 'every pod reads CURSOR_SECRET from the trellis-gateway Secret')
  const next = await cursorAcrossReplicas(t, config.cursorSecret)
  t.equal(next.status, 200, `the second replica accepts the first one's cursor: ${next.body}`)
})

t.test('Service, PodDisruptionBudget and HorizontalPodAutoscaler select the gateway', async (t) => {
  const svc = one('Service', 'trellis-gateway')
  t.ok(matches(svc.spec.selector, gatewayPod.metadata.labels), 'Service selects the gateway pods')
  t.ok(
    svc.spec.ports.every((p: Obj) => gatewayContainer.ports.some((c: Obj) => c.name === p.targetPort)),
    'targetPort is a named container port',
  )
  const pdb = one('PodDisruptionBudget', 'trellis-gateway')
  t.equal(pdb.apiVersion, 'policy/v1')
  t.ok(matches(pdb.spec.selector.matchLabels, gatewayPod.metadata.labels), 'PDB selects the gateway pods')
  t.ok(pdb.spec.maxUnavailable !== undefined || pdb.spec.minAvailable !== undefined)
  const hpa = one('HorizontalPodAutoscaler', 'trellis-gateway')
  t.equal(hpa.apiVersion, 'autoscaling/v2')
  t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'trellis-gateway' })
  t.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas)
})

t.test('the SpiceDBCluster: pinned version, postgres, dispatch, the shared secret', async (t) => {
  const cluster = one('SpiceDBCluster', 'spicedb')
  t.equal(cluster.apiVersion, 'authzed.com/v1alpha1')
  t.equal(cluster.spec.version, pinned, 'same SpiceDB version as tools/spicedb/go.mod')
  t.match(cluster.spec.config, { datastoreEngine: 'postgres', dispatchEnabled: true })
  t.ok(cluster.spec.config.replicas >= 2, 'dispatch needs peers')
  const secret = secrets.find((s) => s.metadata.name === cluster.spec.secretName)
  t.ok(secret?.stringData?.datastore_uri && secret?.stringData?.preshared_key, 'the operator finds datastore_uri and preshared_key')
})

t.test('plain SpiceDB: dispatch cluster over its own Service, RBAC for it, migration job', async (t) => {
  const dep = one('Deployment', 'spicedb')
  const pod = dep.spec.template.spec
  const c = pod.containers[0]
  const env = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e.value ?? e.valueFrom]))
  t.equal(c.image, `authzed/spicedb:${pinned}`)
  t.same(c.args, ['serve'])
  t.ok(dep.spec.replicas >= 2)
  t.equal(env.SPICEDB_DISPATCH_CLUSTER_ENABLED, 'true')
  t.equal(env.SPICEDB_DATASTORE_ENGINE, 'postgres')
  const [, svcName, ns, portName] = /^kubernetes:\/\/\/([^.]+)\.([^:]+):(.+)$/.exec(env.SPICEDB_DISPATCH_UPSTREAM_ADDR) ?? []
  const svc = one('Service', svcName!)
  t.equal(ns, 'trellis')
  t.ok(matches(svc.spec.selector, dep.spec.template.metadata.labels), 'dispatch Service selects the SpiceDB pods')
  t.ok(
    svc.spec.ports.some((p: Obj) => p.name === portName),
    `Service has the ${portName} port`,
  )
  t.ok(
    c.ports.some((p: Obj) => p.name === portName),
    'container exposes it',
  )
  // The kubernetes:/// resolver dials the Endpoints' ready addresses only, and SpiceDB's hashring
  // never skips a member: readiness is what takes a dead or hung pod out of the ring.
  t.match(c.readinessProbe, { grpc: { port: 50051 } })
  const r = c.readinessProbe as { periodSeconds?: number; timeoutSeconds?: number; failureThreshold?: number }
  const unreadyAfter = (r.periodSeconds ?? 10) * (r.failureThreshold ?? 3) + (r.timeoutSeconds ?? 1)
  t.ok(unreadyAfter <= 15, `a hung pod is unready, so out of the dispatch ring, within ${unreadyAfter} s`)
  t.notOk(svc.spec.publishNotReadyAddresses, 'the dispatch Service lists ready pods only')
  t.match(c.securityContext, { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false })

  const binding = one('RoleBinding', 'spicedb')
  t.ok(
    binding.subjects.some((s: Obj) => s.kind === 'ServiceAccount' && s.name === pod.serviceAccountName),
    "bound to the pods' ServiceAccount",
  )
  const role = one('Role', binding.roleRef.name)
  t.ok(
    role.rules.some((r: Obj) => r.resources.includes('endpoints') && ['get', 'list', 'watch'].every((v) => r.verbs.includes(v))),
    'may watch Endpoints',
  )

  const job = manifests.find((m) => m.kind === 'Job' && m.metadata.name.startsWith('spicedb-migrate'))!
  const jc = job.spec.template.spec.containers[0]
  t.equal(jc.image, c.image, 'migrates with the serving image')
  t.same(jc.args, ['datastore', 'migrate', 'head'])
  t.ok(job.metadata.name.endsWith(pinned!.replaceAll('.', '-')), 'job name carries the version (templates are immutable)')
  const uri = (x: Obj) => (x.env as Obj[]).find((e) => e.name === 'SPICEDB_DATASTORE_CONN_URI')?.valueFrom.secretKeyRef
  t.same(uri(jc), uri(c), 'migrate and serve read one datastore URI')
})
