/**
 * SpiceDB's bulk streams over a gRPC client: ExportBulkRelationships (a server stream) and
 * ImportBulkRelationships (a client stream). Both move data only as fast as the other side
 * takes it: the export is read a message at a time (grpc-js asks HTTP/2 for the next message
 * only when the iterator is pulled), the import waits for a message to be sent before it has
 * more than two out. So a
 * million relationships cost one page of memory, not a million.
 *
 * A server without them (the npm package's embedded library serves neither on its socket)
 * answers UNIMPLEMENTED; `BulkTransfer` learns that once and goes the long way: the export as
 * ReadRelationships pages at the same exact snapshot, the import as `create` writes of 1,000.
 * That import is not one transaction: a failure part way leaves the writes before it, which
 * its error says (sending the same set again merges, touching only what is missing).
 */
import { v1 } from '@authzed/authzed-node'
import { EngineError, type Consistency, type EnginePort, type ExportOptions, type Relationship, type RelationshipUpdate } from './port.js'
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

const IN_FLIGHT = 2

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
  const ended = answer.then(
    () => undefined,
    () => undefined,
  )
  // messages handed to gRPC and not yet sent: at most IN_FLIGHT (the stream's own buffer holds 16,
  // a page of objects each, long enough for the garbage collector to promote them: 100+ MB of
  // old-space garbage over a million relationships)
  const inFlight: Promise<void>[] = []
  try {
    for await (const page of pages) {
      if (failed) break
      if (page.length === 0) continue
      const message = v1.ImportBulkRelationshipsRequest.create({ relationships: page.map(pb.relationship) })
      inFlight.push(new Promise<void>((resolve) => stream.write(message, () => resolve())))
      if (inFlight.length >= IN_FLIGHT) await Promise.race([inFlight.shift()!, ended])
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

const UNIMPLEMENTED = 12
const unimplemented = (err: unknown) => err instanceof EngineError && err.grpcCode === UNIMPLEMENTED
/** SpiceDB's default cap on the updates of one WriteRelationships */
const WRITE_PAGE = 1000

/** What the long way needs of the engine: its own paged reads and writes. */
export type BulkFallback = Pick<EnginePort, 'readRelationships' | 'writeRelationships'>

export class BulkTransfer {
  /** whether the server serves the bulk streams; learned on first use */
  private streams?: boolean

  constructor(
    private readonly client: () => v1.ZedClientInterface | undefined,
    private readonly fallback: BulkFallback,
  ) {}

  async *export(opts: ExportOptions): AsyncGenerator<Relationship[]> {
    const client = this.client()
    if (client && this.streams !== false) {
      let yielded = false
      try {
        for await (const page of exportPages(client, opts)) {
          yielded = true
          yield page
        }
        this.streams = true
        return
      } catch (err) {
        if (yielded || !unimplemented(err)) throw err
        this.streams = false
      }
    }
    yield* this.readPages(opts)
  }

  private async *readPages(opts: ExportOptions): AsyncGenerator<Relationship[]> {
    const at: Consistency = { mode: 'at_exact_snapshot', token: opts.at }
    for (const resourceType of opts.types) {
      let cursor: string | undefined
      do {
        if (opts.signal?.aborted) throw callerGone()
        const page = await this.fallback.readRelationships({ resourceType }, { limit: EXPORT_PAGE, cursor }, at)
        if (page.relationships.length) yield page.relationships
        cursor = page.cursor
      } while (cursor)
    }
  }

  /** resolves with the number imported */
  async import(pages: AsyncIterable<Relationship[]>): Promise<number> {
    const client = this.client()
    // The pages can be read once only, so whether the stream exists is asked before, by an
    // import of nothing.
    if (client && this.streams === undefined)
      this.streams = await importPages(client, none()).then(
        () => true,
        (err) => (unimplemented(err) ? false : Promise.reject(err)),
      )
    if (client && this.streams) return importPages(client, pages)
    return this.writePages(pages)
  }

  private async writePages(pages: AsyncIterable<Relationship[]>): Promise<number> {
    let count = 0
    let batch: RelationshipUpdate[] = []
    const flush = async () => {
      try {
        await this.fallback.writeRelationships(batch)
      } catch (err) {
        const e = toEngineError(err)
        if (count === 0) throw e
        throw new EngineError(e.kind, `${e.message} (this engine has no bulk import: the ${count} relationships before this write were written)`, e.grpcCode)
      }
      count += batch.length
      batch = []
    }
    for await (const page of pages) {
      for (const relationship of page) {
        batch.push({ operation: 'create', relationship })
        if (batch.length === WRITE_PAGE) await flush()
      }
    }
    if (batch.length) await flush()
    return count
  }
}

async function* none(): AsyncGenerator<Relationship[]> {}
