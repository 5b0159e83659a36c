/**
 * How the primary of a WORKERS gateway hands connections to its workers, in place of
 * node:cluster's round robin. That one keeps the primary's copy of each connection until the
 * worker answers "accepted"; a worker killed between the two never answers, and the caller's
 * connection stays open, unanswered, until the caller gives up (issue: 1 in 8 callers hung
 * after a SIGKILL). Here the primary still hands connections out in turn, but it remembers
 * every one it handed to a worker until that worker says it has it, and closes them all when
 * the worker dies: the caller sees the connection close at once and may retry.
 *
 * The worker serves a handed connection exactly as if its own server had accepted it, and
 * counts it as that server's connection, so a graceful close still waits for it.
 */
import type { Worker } from 'node:cluster'
import net from 'node:net'
import type { Server } from 'node:http'

export const CONNECTION = 'trellis:connection'
export const RECEIVED = 'trellis:connection-received'

interface Handed {
  type: typeof CONNECTION
  id: number
}

interface Received {
  type: typeof RECEIVED
  id: number
}

/** the primary's side: the workers that take connections, in turn, and what each holds */
export class ConnectionDispatcher {
  private readonly ready: Worker[] = []
  private readonly handed = new Map<Worker, Map<number, net.Socket>>()
  private readonly waiting: { socket: net.Socket; timer: NodeJS.Timeout }[] = []
  private next = 0
  private seq = 0

  /** @param waitMs how long a connection waits for a worker when none is ready (a restart) */
  constructor(private readonly waitMs: number) {}

  /** a worker that serves: it takes connections from now on */
  add(worker: Worker) {
    this.handed.set(worker, new Map())
    worker.on('message', (m: Received) => {
      if (m?.type !== RECEIVED) return
      const held = this.handed.get(worker)
      const socket = held?.get(m.id)
      held?.delete(m.id)
      // the worker has its own copy now; closing ours leaves the connection open
      socket?.destroy()
    })
    this.ready.push(worker)
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer)
      this.dispatch(w.socket)
    }
  }

  /** a worker that stops (asked to, or dead): no new connections for it */
  remove(worker: Worker) {
    const i = this.ready.indexOf(worker)
    if (i >= 0) this.ready.splice(i, 1)
  }

  /** a dead worker: the connections it never confirmed are closed, so no caller hangs */
  exited(worker: Worker) {
    this.remove(worker)
    for (const socket of this.handed.get(worker)?.values() ?? []) socket.destroy()
    this.handed.delete(worker)
  }

  dispatch(socket: net.Socket) {
    const live = this.ready.filter((w) => w.isConnected())
    if (live.length === 0) {
      const timer = setTimeout(() => {
        const i = this.waiting.findIndex((w) => w.socket === socket)
        if (i >= 0) this.waiting.splice(i, 1)
        socket.destroy()
      }, this.waitMs)
      this.waiting.push({ socket, timer })
      return
    }
    const worker = live[this.next++ % live.length]!
    const id = this.seq++
    const held = this.handed.get(worker)!
    held.set(id, socket)
    // keepOpen: our copy closes when the worker confirms (above) or dies (exited)
    worker.send({ type: CONNECTION, id } satisfies Handed, socket, { keepOpen: true }, (err) => {
      if (!err) return
      held.delete(id)
      socket.destroy()
    })
  }

  /** every connection still waiting for a worker is closed (the gateway stops) */
  close() {
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer)
      w.socket.destroy()
    }
  }
}

/** the primary's listening socket: it reads nothing itself, it only hands connections on */
export const handOffServer = (dispatcher: ConnectionDispatcher) => net.createServer({ pauseOnConnect: true }, (socket) => dispatcher.dispatch(socket))

/**
 * The worker's side: connections the primary hands over are served by `server`. They are
 * counted as the server's own (what net.Server does for a connection it accepts), so that
 * `server.close()`, and with it the app's graceful close, waits until they end.
 */
export function serveHandedConnections(server: Server) {
  const counted = server as unknown as { _connections: number; _emitCloseIfDrained?: () => void }
  process.on('message', (m: Handed, socket?: net.Socket) => {
    if (m?.type !== CONNECTION || !socket) return
    counted._connections++
    ;(socket as unknown as { _server: unknown })._server = server
    server.emit('connection', socket)
    socket.resume()
    process.send!({ type: RECEIVED, id: m.id } satisfies Received)
  })
}
