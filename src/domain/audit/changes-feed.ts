/**
 * The changes feed for caches: SpiceDB's Watch as server-sent events. Each event is one
 * revision, `id:` its ZedToken, so an EventSource that reconnects sends `Last-Event-ID` and
 * resumes right after the last revision it saw: nothing missed, nothing twice.
 *
 * Feeds read from the process's one Watch (src/domain/audit/change-hub.ts) and filter by type for
 * themselves. A feed resuming from a token the hub no longer holds reads its own Watch from
 * that token (types filtered by SpiceDB) until a batch it reads is one the hub holds or will
 * receive; it then joins the hub right before that batch, so nothing is missed or repeated.
 *
 * Never buffers without bound: a feed counts the bytes it handed the socket whose write has not
 * completed (in this process, whatever the kernel absorbs). More than `maxBufferedBytes`, or a
 * write not completed within `drainTimeoutMs`, drops the reader with a final `dropped` event
 * that says where to resume. Heartbeat comments keep proxies from closing an idle feed. A feed
 * whose key loses its scope ends with an `error` event (src/domain/callers/authorization-hold.ts).
 */
import type { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ChangeBatch, EnginePort } from '../../engine/port.js'
import { coversToken } from '../../engine/consistency/zedtoken-store.js'
import type { ChangeHub, HubMember } from './change-hub.js'
import { fromEngineError } from '../wire/engine-errors.js'
import type { GatewayError } from '../wire/errors.js'
import { formatRelationship } from '../wire/refs.js'

export interface FeedOptions {
  heartbeatMs: number
  maxBufferedBytes: number
  drainTimeoutMs: number
  /** recent batches the process's hub keeps for feeds that resume (src/domain/audit/change-hub.ts) */
  ringBatches: number
}

export const FEED_DEFAULTS: FeedOptions = { heartbeatMs: 15_000, maxBufferedBytes: 1024 * 1024, drainTimeoutMs: 10_000, ringBatches: 1024 }

/** how long a catch-up waits for the hub to receive a batch it read first */
const MEET_MS = 2000

export type FeedEnd = 'closed' | 'dropped' | 'error' | 'revoked'

export function sseEvent(event: string, data: unknown, id?: string): string {
  return `${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

export function changeEvent(batch: ChangeBatch): string {
  const changes = batch.changes.map((c) => ({ operation: c.operation, relationship: formatRelationship(c.relationship) }))
  return sseEvent('change', { token: batch.token, changes }, batch.token)
}

// One rendering per batch and type filter, however many feeds share them. Only the batch being
// fanned out is kept (the hub delivers it to every feed in one go): renderings of the ring's
// older batches would hold memory for every filter in use.
let renderedBatch: ChangeBatch | undefined
let rendered = new Map<string, string | null>()

function render(batch: ChangeBatch, types: ReadonlySet<string> | undefined, key: string): string | null {
  if (renderedBatch !== batch) {
    renderedBatch = batch
    rendered = new Map()
  }
  let text = rendered.get(key)
  if (text === undefined) {
    const changes = types ? batch.changes.filter((c) => types.has(c.relationship.resource.type)) : batch.changes
    text = changes.length ? changeEvent({ token: batch.token, changes }) : null
    rendered.set(key, text)
  }
  return text
}

export interface FeedSource {
  hub: ChangeHub
  /** for catch-up Watches */
  engine: EnginePort
}

/**
 * Streams change batches to `out` until the reader leaves (signal), is too slow, loses its
 * authorization, or the engine fails; then ends `out` with a last event saying why.
 */
export async function runFeed(
  source: FeedSource,
  out: Writable,
  watch: { types?: string[]; after?: string },
  signal: AbortSignal,
  opts: FeedOptions & { keepAuthorized?: (onLost: (reason: GatewayError) => void) => () => void },
): Promise<FeedEnd> {
  const { hub, engine } = source
  const types = watch.types ? new Set(watch.types) : undefined
  const filterKey = watch.types ? [...types!].sort().join(',') : '*'
  let last = watch.after
  let ended: FeedEnd | undefined
  let onEnd!: (end: FeedEnd) => void
  const done = new Promise<FeedEnd>((resolve) => (onEnd = resolve))
  const finish = (end: FeedEnd, event?: string, data?: Record<string, unknown>) => {
    if (ended) return
    ended = end
    if (event && !out.writableEnded && !out.destroyed) out.end(sseEvent(event, { ...data, resumeFrom: last ?? null }))
    onEnd(end)
  }

  // bytes handed to the socket and not yet written by it, and when each write was handed over
  let pending = 0
  let lastWrite = Date.now()
  const handed: number[] = []
  const drop = () =>
    finish('dropped', 'dropped', {
      reason: `slow reader: more than ${opts.maxBufferedBytes} bytes unread or no drain in ${opts.drainTimeoutMs} ms; reconnect with Last-Event-ID`,
    })
  const tooSlow = () => handed.length > 0 && Date.now() - handed[0]! > opts.drainTimeoutMs
  const send = (chunk: string) => {
    if (ended || out.destroyed) return
    // judged on the backlog before this chunk: one event larger than the bound still goes out
    if (pending > opts.maxBufferedBytes || tooSlow()) return drop()
    const bytes = Buffer.byteLength(chunk)
    pending += bytes
    handed.push((lastWrite = Date.now()))
    out.write(chunk, () => {
      pending -= bytes
      handed.shift()
    })
  }
  const deliver = (batch: ChangeBatch) => {
    const text = render(batch, types, filterKey)
    if (text === null || ended) return
    last = batch.token
    send(text)
  }
  const fail = (err: unknown) => {
    const e = fromEngineError(err, { resource: 'types', token: 'after' })
    finish('error', 'error', { code: e.code, message: e.statusCode >= 500 ? 'the authorization engine is unavailable' : e.message })
  }
  const member: HubMember = { deliver, fail }
  const ready = (from: string, backlog: ChangeBatch[]) => {
    last = from
    send(sseEvent('ready', { types: watch.types ?? null, after: from }, from))
    for (const b of backlog) deliver(b)
  }

  // the tick checks for a stalled socket even when nothing new arrives, and sends heartbeats
  const tick = setInterval(
    () => {
      if (tooSlow()) drop()
      else if (pending === 0 && Date.now() - lastWrite >= opts.heartbeatMs) send(`: heartbeat ${new Date().toISOString()}\n\n`)
    },
    Math.max(20, Math.min(opts.heartbeatMs, opts.drainTimeoutMs / 2)),
  )
  const onAbort = () => finish('closed')
  signal.addEventListener('abort', onAbort, { once: true })
  if (signal.aborted) finish('closed')
  const stopAuth = opts.keepAuthorized?.((reason) => finish('revoked', 'error', { code: reason.code, message: reason.message }))
  const catchUp = new AbortController()
  hub.reserve()
  try {
    // A new reader starts at a revision it is told (the `ready` event's id), not at whatever
    // head the watch happens to open on: a write acknowledged after `ready` is always delivered.
    const joined = ended ? undefined : await hub.join(member, { after: watch.after }, ready)
    if (joined === undefined && !ended) void catchUpThenJoin(watch.after!)
  } catch (err) {
    fail(err)
  }

  async function catchUpThenJoin(after: string) {
    ready(after, [])
    hub.counted(catchUp.signal)
    try {
      for await (const batch of engine.watch!({ types: watch.types, after }, catchUp.signal)) {
        if (ended) return
        if (await meets(batch.token)) {
          const joined = await hub.join(member, { before: batch.token }, (_from, backlog) => backlog.forEach(deliver))
          // the feed may have ended meanwhile, its cleanup done: it must not stay a member
          if (ended) hub.leave(member)
          if (joined !== undefined) return
        }
        deliver(batch)
      }
    } catch (err) {
      if (!catchUp.signal.aborted) fail(err)
    } finally {
      catchUp.abort()
    }
  }

  /** true when the hub holds `token`, or receives it soon (it is newer than the hub's start) */
  async function meets(token: string): Promise<boolean> {
    const start = hub.startsAfter
    if (hub.holds(token)) return true
    if (!start || token === start || !coversToken(token, start)) return false
    for (const until = Date.now() + MEET_MS; Date.now() < until && !ended;) {
      await sleep(10)
      if (hub.holds(token)) return true
    }
    return false
  }

  const end = await done
  clearInterval(tick)
  signal.removeEventListener('abort', onAbort)
  stopAuth?.()
  catchUp.abort()
  hub.release(member)
  return end
}
