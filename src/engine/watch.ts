/**
 * SpiceDB's Watch as an async iterable of change batches, one per revision. Both adapters
 * open the same gRPC server stream (embedded: the library's local socket; remote: the
 * server); this turns it into the port's terms and cancels it when the reader stops.
 *
 * Backpressure: the gRPC stream is a Node readable in object mode, read only as fast as the
 * consumer pulls; gRPC flow control then holds the rest at the server, never in this process.
 */
import { v1 } from '@authzed/authzed-node'
import type { ChangeBatch, WatchOptions } from './port.js'
import * as pb from './proto.js'
import { toEngineError } from './transport.js'
import { EngineError } from './port.js'

/** the slice of grpc-js's ClientReadableStream that watching needs */
export interface WatchCall extends AsyncIterable<unknown> {
  cancel(): void
}

const OPERATION: Record<number, 'touch' | 'create' | 'delete'> = {
  [v1.RelationshipUpdate_Operation.CREATE]: 'create',
  [v1.RelationshipUpdate_Operation.TOUCH]: 'touch',
  [v1.RelationshipUpdate_Operation.DELETE]: 'delete',
}

export function watchRequest(opts: WatchOptions): v1.WatchRequest {
  return v1.WatchRequest.create({
    optionalObjectTypes: opts.types ?? [],
    optionalStartCursor: opts.after ? v1.ZedToken.create({ token: opts.after }) : undefined,
  })
}

const CANCELLED = 1
const UNIMPLEMENTED = 12

/**
 * SpiceDB registers no Watch service when its datastore cannot watch: on Postgres, one without
 * track_commit_timestamp. The call then fails UNIMPLEMENTED ("unknown service"), which read as
 * the caller's bad input (the feed blamed its `types`).
 */
export const WATCH_UNSUPPORTED =
  "the engine's datastore cannot serve Watch, so the changes feed cannot run: on Postgres, set track_commit_timestamp=on, restart Postgres, then SpiceDB (docs/production.md)"

export async function* changeBatches(open: () => WatchCall, signal: AbortSignal): AsyncGenerator<ChangeBatch> {
  if (signal.aborted) return
  const call = open()
  const stop = () => call.cancel()
  signal.addEventListener('abort', stop, { once: true })
  try {
    for await (const raw of call) {
      const res = raw as v1.WatchResponse
      if (res.updates.length === 0) continue
      yield {
        token: pb.token(res.changesThrough),
        changes: res.updates.flatMap((u) =>
          u.relationship ? [{ operation: OPERATION[u.operation] ?? 'touch', relationship: pb.fromRelationship(u.relationship) }] : [],
        ),
      }
    }
  } catch (err) {
    // our own cancel is how a watch ends, not a failure
    const code = (err as { code?: number }).code
    if (signal.aborted && code === CANCELLED) return
    if (code === UNIMPLEMENTED) throw new EngineError('unsupported', WATCH_UNSUPPORTED, code)
    throw toEngineError(err)
  } finally {
    signal.removeEventListener('abort', stop)
    call.cancel()
  }
}
