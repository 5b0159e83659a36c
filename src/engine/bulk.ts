/**
 * SpiceDB's bulk streams over a gRPC client: ExportBulkRelationships (a server stream) and
 * ImportBulkRelationships (a client stream). Both move data only as fast as the other side
 * takes it: the export is read a message at a time (grpc-js asks HTTP/2 for the next message
 * only when the iterator is pulled), the import waits for `drain` before writing more. So a
 * million relationships cost one page of memory, not a million.
 */
import { once } from 'node:events'
import { v1 } from '@authzed/authzed-node'
import { EngineError, type ExportOptions, type Relationship } from './port.js'
import * as pb from './proto.js'
import { callerGone, toEngineError } from './transport.js'

/** relationships per export message (SpiceDB's own default is 1,000 too) */
const EXPORT_PAGE = 1000

export async function* exportPages(client: v1.ZedClientInterface, opts: ExportOptions): AsyncGenerator<Relationship[]> {
  const consistency = v1.Consistency.create({
    requirement: { oneofKind: 'atExactSnapshot', atExactSnapshot: v1.ZedToken.create({ token: opts.at }) },
  })
  for (const resourceType of opts.types) {
    if (opts.signal?.aborted) throw callerGone()
    const stream = client.exportBulkRelationships(
      v1.ExportBulkRelationshipsRequest.create({
        consistency,
        optionalLimit: EXPORT_PAGE,
        optionalRelationshipFilter: v1.RelationshipFilter.create({ resourceType }),
      }),
    )
    const cancel = () => stream.cancel()
    opts.signal?.addEventListener('abort', cancel, { once: true })
    try {
      for await (const message of stream as AsyncIterable<v1.ExportBulkRelationshipsResponse>) {
        yield message.relationships.map(pb.fromRelationship)
      }
    } catch (err) {
      if (opts.signal?.aborted) throw callerGone()
      throw toEngineError(err)
    } finally {
      opts.signal?.removeEventListener('abort', cancel)
      // a consumer that stopped early (return) leaves the stream open otherwise
      stream.cancel()
    }
  }
}

/** Streams the pages into one ImportBulkRelationships call; resolves with SpiceDB's count. */
export async function importPages(client: v1.ZedClientInterface, pages: AsyncIterable<Relationship[]>): Promise<number> {
  let failed: unknown
  let call: ReturnType<v1.ZedClientInterface['importBulkRelationships']> | undefined
  const answer = new Promise<v1.ImportBulkRelationshipsResponse>((resolve, reject) => {
    call = client.importBulkRelationships((err, res) => (err ? reject(err) : resolve(res!)))
  })
  // an early refusal (a duplicate, a bad type) ends the writing loop instead of waiting on drain
  answer.catch((err) => (failed ??= err))
  const stream = call!
  try {
    for await (const page of pages) {
      if (failed) break
      if (page.length === 0) continue
      const ok = stream.write(v1.ImportBulkRelationshipsRequest.create({ relationships: page.map(pb.relationship) }))
      if (!ok) await Promise.race([once(stream, 'drain'), answer.catch(() => undefined)])
    }
  } catch (err) {
    // the source failed (a bad line, the caller left): cancel, so SpiceDB rolls the transaction back
    stream.cancel()
    await answer.catch(() => undefined)
    throw err
  }
  if (!failed) stream.end()
  try {
    const res = await answer
    return Number(res.numLoaded)
  } catch (err) {
    const e = toEngineError(err)
    throw e.kind === 'internal' && /duplicate|already exists|unique/i.test(e.message) ? new EngineError('failed_precondition', e.message, 6) : e
  }
}
