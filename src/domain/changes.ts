/**
 * The changes feed for caches: SpiceDB's Watch as server-sent events. Each event is one
 * revision, `id:` its ZedToken, so an EventSource that reconnects sends `Last-Event-ID` and
 * resumes right after the last revision it saw: nothing missed, nothing twice.
 *
 * Never buffers without bound: the next revision is read from the engine only once the
 * previous one is handed to the socket. A reader that leaves more than `maxBufferedBytes`
 * unread, or does not drain within `drainTimeoutMs`, is dropped with a final `dropped` event
 * that says where to resume. Heartbeat comments keep proxies from closing an idle feed.
 */
import type { Writable } from 'node:stream'
import type { ChangeBatch, EnginePort } from '../engine/port.js'
import { fromEngineError } from './engine-errors.js'
import { formatRelationship } from './refs.js'

export interface FeedOptions {
  heartbeatMs: number
  maxBufferedBytes: number
  drainTimeoutMs: number
}

export const FEED_DEFAULTS: FeedOptions = { heartbeatMs: 15_000, maxBufferedBytes: 1024 * 1024, drainTimeoutMs: 10_000 }

export type FeedEnd = 'closed' | 'dropped' | 'error'

export function sseEvent(event: string, data: unknown, id?: string): string {
  return `${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

export function changeEvent(batch: ChangeBatch): string {
  const changes = batch.changes.map((c) => ({ operation: c.operation, relationship: formatRelationship(c.relationship) }))
  return sseEvent('change', { token: batch.token, changes }, batch.token)
}

/** resolves true once the socket drained, false when it did not in time or closed */
function drained(out: Writable, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer)
      out.off('drain', onDrain)
      out.off('close', onClose)
      resolve(ok)
    }
    const onDrain = () => done(true)
    const onClose = () => done(false)
    const timer = setTimeout(() => done(false), ms)
    out.on('drain', onDrain)
    out.on('close', onClose)
  })
}

/**
 * Streams change batches to `out` until the reader leaves (signal), is too slow, or the
 * engine fails; then ends `out` with a last event saying why.
 */
export async function runFeed(
  engine: EnginePort,
  out: Writable,
  watch: { types?: string[]; after?: string },
  signal: AbortSignal,
  opts: FeedOptions & { headToken: () => Promise<string> },
): Promise<FeedEnd> {
  let last = watch.after
  const heartbeat = setInterval(() => {
    if (out.writableLength === 0) out.write(`: heartbeat ${new Date().toISOString()}\n\n`)
  }, opts.heartbeatMs)
  const end = (event: string, data: Record<string, unknown>) => {
    if (!out.writableEnded) out.end(sseEvent(event, { ...data, resumeFrom: last ?? null }))
  }
  try {
    // A new reader starts at a revision it is told (the `ready` event's id), not at whatever
    // head the watch happens to open on: a write acknowledged after `ready` is always delivered.
    last ??= await opts.headToken()
    out.write(sseEvent('ready', { types: watch.types ?? null, after: last }, last))
    for await (const batch of engine.watch!({ ...watch, after: last }, signal)) {
      if (signal.aborted) return 'closed'
      const fits = out.write(changeEvent(batch))
      last = batch.token
      if (out.writableLength > opts.maxBufferedBytes || (!fits && !(await drained(out, opts.drainTimeoutMs)))) {
        if (signal.aborted) return 'closed'
        end('dropped', { reason: `slow reader: more than ${opts.maxBufferedBytes} bytes unread or no drain in ${opts.drainTimeoutMs} ms; reconnect with Last-Event-ID` })
        return 'dropped'
      }
    }
    return 'closed'
  } catch (err) {
    if (signal.aborted) return 'closed'
    const e = fromEngineError(err, { resource: 'types', token: 'after' })
    // an unsupported engine's message is the gateway's own: it says which setting to change
    end('error', { code: e.code, message: e.statusCode >= 500 && e.code !== 'GW_ENGINE_UNSUPPORTED' ? 'the authorization engine is unavailable' : e.message })
    return 'error'
  } finally {
    clearInterval(heartbeat)
  }
}
