/**
 * scripts/dispatch-membership.mjs run the way docker-compose.yml runs it: one process per
 * hashring slot (the relay services' own commands, read from the file), each knowing the three
 * nodes by host name. The nodes are small HTTP/2 stand-ins, each a process of its own (so it can
 * be SIGSTOPped: a hang) that answers every request with its number, which is what the relay's
 * probe and a relayed gRPC connection see of a SpiceDB dispatch port. Only the host names and
 * ports differ from compose: the nodes are `localhost:<port>` and each slot listens on loopback.
 *
 * SpiceDB's hashring never skips a member, so a slot must always reach a live node: a hung or
 * dead node's slot moves to the next live node within 2 s, the connections relayed to it are
 * cut (the peers' gRPC channels reconnect), and the slot goes home once its node answers again.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import http2 from 'node:http2'
import net from 'node:net'
import t from 'tap'
import { parse } from 'yaml'

const root = new URL('../../', import.meta.url).pathname
type Service = { command?: string[] }
const compose = parse(readFileSync(root + 'docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service> }
const SLOTS = ['spicedb-dispatch-1', 'spicedb-dispatch-2', 'spicedb-dispatch-3']
const NODES = ['spicedb-1', 'spicedb-2', 'spicedb-3']
const MOVE_MS = 2000

const freePort = async () => {
  const s = net.createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const { port } = s.address() as net.AddressInfo
  s.close()
  return port
}

const children: ChildProcess[] = []
t.teardown(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

/** a stand-in for node N's dispatch port: every HTTP/2 request is answered with N */
async function standIn(n: number): Promise<{ proc: ChildProcess; port: number }> {
  const code = `
    const s = require('node:http2').createServer()
    s.on('stream', (st) => { st.respond({ ':status': 200, 'x-node': '${n}' }); st.end() })
    s.listen(0, () => console.log(s.address().port))`
  const proc = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(proc)
  const [line] = (await once(proc.stdout!, 'data')) as [Buffer]
  return { proc, port: Number(line.toString().trim()) }
}

/** which node answers a new connection through a slot (undefined: none within 500 ms) */
function ask(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`)
    const done = (node?: string) => {
      clearTimeout(timer)
      session.destroy()
      resolve(node)
    }
    const timer = setTimeout(() => done(), 500)
    session.on('error', () => done())
    session.on('close', () => done())
    const req = session.request({ ':method': 'POST', ':path': '/dispatch.v1.DispatchService/DispatchCheck' })
    req.on('response', (h) => done(String(h['x-node'])))
    req.on('error', () => done())
    req.end()
  })
}

/** ms until a new connection through the slot is answered by `node` (or MOVE_MS * 3 elapse) */
async function until(port: number, node: string, since: number) {
  for (;;) {
    const got = await ask(port)
    const elapsed = Date.now() - since
    if (got === node || elapsed > MOVE_MS * 3) return { got, elapsed }
    await new Promise((r) => setTimeout(r, 50))
  }
}

t.test('each slot relay of compose serves one slot and falls back to the next live node', async (t) => {
  const nodes = await Promise.all(NODES.map((_, i) => standIn(i + 1)))
  const slotPorts: number[] = []
  for (const r of SLOTS) {
    const [node, script, ...args] = compose.services[r]?.command ?? []
    t.same([node, script], ['node', '/membership/dispatch-membership.mjs'], `${r} runs the membership script`)
    const port = await freePort()
    slotPorts.push(port)
    // compose's own arguments, its addresses mapped to this machine: the slot onto loopback,
    // each node's host name onto a name that resolves here (the stand-in's port)
    const local = args.map((a) => {
      if (a === '0.0.0.0:50054') return `127.0.0.1:${port}`
      const i = NODES.findIndex((n) => a === `${n}:50053`)
      return i < 0 ? a : `localhost:${nodes[i]!.port}`
    })
    t.same(local.filter((a) => a.startsWith('localhost:')).length, 3, `${r} knows the three nodes`)
    const proc = spawn(process.execPath, [root + 'scripts/dispatch-membership.mjs', ...local], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(proc)
    let out = ''
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    while (!/ slot /.test(out)) {
      if (proc.exitCode !== null) throw new Error(`${r} exited ${proc.exitCode}: ${out}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    t.match(out, new RegExp(`slot 127\\.0\\.0\\.1:${port} -> localhost:${nodes[SLOTS.indexOf(r)]!.port}`), `${r} serves its one slot, its home node's`)
  }

  for (const [i, port] of slotPorts.entries()) t.equal(await ask(port), String(i + 1), `slot ${i + 1} reaches node ${i + 1} while it answers`)

  // a relayed connection held open, as a peer's gRPC channel holds one
  const held = http2.connect(`http://127.0.0.1:${slotPorts[1]}`)
  held.on('error', () => {})
  const heldClosed = once(held, 'close').then(() => Date.now())
  const first = held.request({ ':method': 'POST', ':path': '/x' })
  const [headers] = (await once(first, 'response')) as [http2.IncomingHttpHeaders]
  first.resume()
  t.equal(headers['x-node'], '2', 'the held connection is relayed to node 2')

  // node 2 hangs
  const stoppedAt = Date.now()
  nodes[1]!.proc.kill('SIGSTOP')
  const moved = await until(slotPorts[1]!, '3', stoppedAt)
  t.equal(moved.got, '3', 'a hung node 2: its slot is served by node 3, the next live node')
  t.ok(moved.elapsed < MOVE_MS, `within ${MOVE_MS} ms (${moved.elapsed} ms)`)
  const cut = await Promise.race([heldClosed, new Promise<undefined>((r) => setTimeout(r, MOVE_MS))])
  t.ok(
    cut !== undefined && cut - stoppedAt < MOVE_MS,
    `the connection relayed to node 2 is cut (${cut === undefined ? 'still open' : `${cut - stoppedAt} ms`}), so gRPC reconnects`,
  )
  t.equal(await ask(slotPorts[0]!), '1', 'slot 1 stays on node 1')
  t.equal(await ask(slotPorts[2]!), '3', 'slot 3 stays on node 3')

  // node 2 answers again: new connections through its slot go home
  const resumedAt = Date.now()
  nodes[1]!.proc.kill('SIGCONT')
  const home = await until(slotPorts[1]!, '2', resumedAt)
  t.equal(home.got, '2', 'node 2 back: its slot goes home')
  t.ok(home.elapsed < MOVE_MS, `within ${MOVE_MS} ms (${home.elapsed} ms)`)

  // node 3 dies: its slot wraps round to node 1
  const killedAt = Date.now()
  nodes[2]!.proc.kill('SIGKILL')
  const wrapped = await until(slotPorts[2]!, '1', killedAt)
  t.equal(wrapped.got, '1', 'a dead node 3: its slot is served by node 1')
  t.ok(wrapped.elapsed < MOVE_MS, `within ${MOVE_MS} ms (${wrapped.elapsed} ms)`)
  t.equal(await ask(slotPorts[1]!), '2', 'slot 2 stays on node 2')
})
