/**
 * A signal that aborts when the caller's connection closes before its answer was sent, so the
 * engine work behind a long read (lookups, reads, expand, explain, reports) is cancelled
 * instead of running on for nobody. Routes ask for it; checks, short and coalesced, do not.
 */
import type { FastifyReply } from 'fastify'

export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  const res = reply.raw
  const socket = res.socket
  // the connection may already be gone by the time the handler runs
  if (res.destroyed || socket?.destroyed) {
    controller.abort()
    return controller.signal
  }
  const onClose = () => {
    if (!res.writableFinished) controller.abort()
  }
  res.once('close', onClose)
  return controller.signal
}
