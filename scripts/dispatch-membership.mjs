// The dispatch hashring's membership for scripts/cluster.sh: what Kubernetes Endpoints (and
// SpiceDB's kubernetes:/// resolver) do in production, on one machine.
//
// SpiceDB's consistent-hashring balancer has no fallback: a sub-problem whose key hashes to a
// node is sent to that node, and while the node is dead or hung every check that needs that
// sub-problem fails on every node (github.com/authzed/consistent, picker.Pick: "As long as you
// are using a resolver that removes connections from the list when they are observably
// unavailable, this is a non-issue"). The dns:/// resolver cluster.sh uses never removes one
// (the /etc/hosts lines stay, and grpc-go re-resolves at most every 30 s), so a SIGKILLed node's
// share of sub-problems failed until it came back.
//
// So each hashring member is a slot, 127.0.0.N:DISPATCH, served here and relayed byte for byte
// (gRPC over HTTP/2, untouched) to node N's own dispatch port. Every node is probed every
// PROBE_MS over HTTP/2: no answer within PROBE_TIMEOUT_MS (a hang, SIGSTOP) or a refused
// connection (SIGKILL) marks it down, and the connections relayed to it are cut at once, so the
// peers' gRPC channels reconnect and their slot is served by the next live node. Any node can
// answer any sub-problem (they share the datastore; the ring only spreads the caches), so the
// answers stay the same. A slot goes home for new connections once its node answers again.
//
//   node scripts/dispatch-membership.mjs 127.0.0.1:14753=127.0.0.1:14754 127.0.0.2:14753=...
//
// Or one slot per process, as docker-compose.yml runs it: a relay container per hashring member,
// the three behind one network alias, so the peers' name resolves to three slots. Each serves
// slot N (node N's, the next live node's while node N is out) on --listen and probes every node,
// so it knows where to fall back. Node host names are resolved at each connection and probe (a
// container that is gone stops resolving: it is down; one that comes back on a new address is
// found there).
//
//   node scripts/dispatch-membership.mjs --listen 0.0.0.0:50054 --slot 2 spicedb-1:50053 spicedb-2:50053 spicedb-3:50053
import net from 'node:net'
import http2 from 'node:http2'

const PROBE_MS = Number(process.env.PROBE_MS ?? 200)
const PROBE_TIMEOUT_MS = Number(process.env.PROBE_TIMEOUT_MS ?? 400)

const split = (hostPort) => {
  const i = hostPort.lastIndexOf(':')
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) }
}
const usage = () => {
  console.error(
    'usage: dispatch-membership.mjs SLOT=NODE_DISPATCH_ADDR ...\n' + '       dispatch-membership.mjs --listen HOST:PORT --slot N NODE_DISPATCH_ADDR ...',
  )
  process.exit(2)
}
const args = process.argv.slice(2)
const option = (name) => {
  const i = args.indexOf(name)
  if (i < 0) return undefined
  const [, value] = args.splice(i, 2)
  if (value === undefined) usage()
  return value
}
const listen = option('--listen')
const only = option('--slot')
const nodes = args.map((arg) => {
  if (only === undefined) {
    const [slot, target] = arg.split('=')
    if (!slot || !target) usage()
    return { slot: split(slot), target: split(target), name: target, up: true, pairs: new Set() }
  }
  if (arg.includes('=')) usage()
  return { slot: undefined, target: split(arg), name: arg, up: true, pairs: new Set() }
})
if (nodes.length === 0 || (listen === undefined) !== (only === undefined)) usage()
if (only !== undefined) {
  const n = Number(only)
  if (!Number.isInteger(n) || n < 1 || n > nodes.length) usage()
  nodes[n - 1].slot = split(listen)
}
const log = (msg) => console.log(`${new Date().toISOString()} ${msg}`)

/** node i's slot is served by node i while it is up, else by the next live node */
function candidates(i) {
  const order = nodes.map((_, k) => nodes[(i + k) % nodes.length])
  return [...order.filter((n) => n.up), ...order.filter((n) => !n.up)]
}

function markDown(node, why) {
  if (!node.up) return
  node.up = false
  log(`${node.name} down (${why}); cutting ${node.pairs.size} relayed connections`)
  for (const pair of node.pairs) pair.destroy()
}

function relay(client, i) {
  client.pause()
  const tries = candidates(i)
  const attempt = (k) => {
    const node = tries[k]
    if (!node || client.destroyed) return client.destroy()
    const upstream = net.connect(node.target)
    let connected = false
    const pair = {
      destroy() {
        client.destroy()
        upstream.destroy()
      },
    }
    upstream.once('connect', () => {
      connected = true
      node.pairs.add(pair)
      client.pipe(upstream).pipe(client)
      client.resume()
    })
    upstream.on('error', () => {
      if (!connected) {
        markDown(node, 'connection refused')
        return attempt(k + 1)
      }
      pair.destroy()
    })
    upstream.on('close', () => {
      node.pairs.delete(pair)
      client.destroy()
    })
    client.on('error', () => upstream.destroy())
    client.on('close', () => upstream.destroy())
  }
  attempt(0)
}

/**
 * alive: the node answers an HTTP/2 request (any gRPC status) within the timeout; resolves to
 * undefined then, else to why not (the timeout, or the error: refused, a name that no longer
 * resolves)
 */
function probe(node) {
  return new Promise((resolve) => {
    let done = false
    const finish = (why) => {
      if (done) return
      done = true
      clearTimeout(timer)
      session.destroy()
      resolve(why)
    }
    const failed = (err) => finish(err.cause?.code ?? err.code ?? (err.message || 'error')) // a cancelled request names the session's error
    const timer = setTimeout(() => finish(`no answer within ${PROBE_TIMEOUT_MS} ms`), PROBE_TIMEOUT_MS)
    const session = http2.connect(`http://${node.name}`)
    session.on('error', failed)
    const req = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' })
    req.on('response', () => finish(undefined))
    req.on('error', failed)
    req.end(Buffer.alloc(5))
  })
}

async function watch(node) {
  for (;;) {
    const why = await probe(node)
    if (why) markDown(node, why)
    else if (!node.up) {
      node.up = true
      log(`${node.name} up again`)
    }
    await new Promise((r) => setTimeout(r, PROBE_MS))
  }
}

nodes.forEach((node, i) => {
  if (node.slot) {
    const { host, port } = node.slot
    net.createServer((client) => relay(client, i)).listen(port, host, () => log(`slot ${host}:${port} -> ${node.name}`))
  }
  void watch(node)
})
process.on('SIGTERM', () => process.exit(0))
