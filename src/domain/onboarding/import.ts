/**
 * Import (onboarding, restore): an NDJSON set of relationships, judged whole against the
 * invariants before anything is written (import-judgement.ts), then written in one of two ways.
 * Into an engine with no relationships: SpiceDB's ImportBulkRelationships, one transaction.
 * Into a live one: a merge, touching only the lines that differ from what is there, in writes of
 * 1,000 (so `changed` says what the import changed).
 *
 * The body is first received whole, as it arrives, into a file (so its size costs disk, not
 * memory, and receiving it does not wait on the judgement: REQUEST_TIMEOUT_MS bounds the upload,
 * not the work); then read from there, checked and indexed into a spool file, and the spool read
 * again to write. What stays in memory is the judgement's compact index of governed
 * relationships and, for a merge, the live relationships' keys.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { once } from 'node:events'
import os from 'node:os'
import path from 'node:path'
import type { EnginePort, Relationship } from '../../engine/port.js'
import { fromEngineError } from '../wire/engine-errors.js'
import { GatewayError, conflict } from '../wire/errors.js'
import { JudgementIndex, type Violation } from './import-judgement.js'
import { badLine, formatLine, isEndLine, parseLine, readLines, type LineRules } from './ndjson.js'
import { formatRelationship, parseRelationship } from '../wire/refs.js'
import { readSchema } from '../schema/model.js'
import { isInternalName } from '../schema/internal-types.js'

export interface ImportDeps {
  /** the engine the writes go to (`gateway.unaudited`, below the audit layer: one record is kept per import) */
  engine: EnginePort
  /** the resource types the schema defines, internal ones left out */
  types: string[]
  rules: LineRules
  maxBytes: number
  signal?: AbortSignal
}

export interface ImportResult {
  importedAt: string
  count: number
  changed: number
}

const PAGE = 1000
/** The schema's definitions a caller may export and import: every one but the gateway's internal ones. */
export function exportableTypes(schemaText: string): string[] {
  return [...readSchema(schemaText).definitions.keys()].filter((t) => !isInternalName(t))
}

export const keyOf = (r: Relationship) => formatRelationship({ ...r, caveat: undefined })
export const caveatOf = (r: Relationship) => (r.caveat ? JSON.stringify(r.caveat) : '')

export const invariantRefusal = (violations: Violation[], what: string) =>
  conflict('GW_IMPORT_INVARIANT', `${what} would break an invariant, so nothing was written; first at line ${violations[0]!.line}: ${violations[0]!.message}`, {
    violations,
  })

/** Reads the live relationships at `at`, into the judgement's index and a key -> caveat map. */
export async function loadLive(engine: EnginePort, types: string[], at: string, index: JudgementIndex, signal?: AbortSignal) {
  const live = new Map<string, string>()
  for await (const page of engine.exportRelationships!({ types, at, signal })) {
    for (const r of page) {
      index.addLive(r)
      live.set(keyOf(r), caveatOf(r))
    }
  }
  return live
}

/** Relationships read back from a spool file, a page at a time. */
async function* pagesOf(file: string, keep: (r: Relationship) => boolean = () => true): AsyncGenerator<Relationship[]> {
  let page: Relationship[] = []
  let seen = new Set<string>()
  for await (const [text] of readLines(createReadStream(file), Infinity)) {
    // the spooled line names the relationship as keyOf() would (formatLine), so that is its key
    const [r, key] = parseSpooled(text)
    // one write may not name a relationship twice; a page drops its own repeats
    if (!keep(r) || seen.has(key)) continue
    seen.add(key)
    page.push(r)
    if (page.length === PAGE) {
      yield page
      page = []
      seen = new Set()
    }
  }
  if (page.length) yield page
}

/** a line this import spooled, so already checked */
function parseSpooled(text: string): [Relationship, string] {
  const { relationship, caveat } = JSON.parse(text) as { relationship: string; caveat?: Relationship['caveat'] }
  const r = parseRelationship(relationship, 'spool')
  if (caveat) r.caveat = caveat
  return [r, relationship]
}

/** Writes the body to `file` as it arrives, at most `maxBytes` of it (413). */
async function receive(body: AsyncIterable<Buffer | string>, file: string, maxBytes: number): Promise<void> {
  const out = createWriteStream(file)
  let bytes = 0
  try {
    for await (const chunk of body) {
      bytes += chunk.length
      if (bytes > maxBytes) throw new GatewayError('GW_PAYLOAD_TOO_LARGE', 413, `the body is larger than ${maxBytes} bytes (IMPORT_MAX_BYTES)`)
      if (!out.write(chunk)) await once(out, 'drain')
    }
    out.end()
    await once(out, 'finish')
  } finally {
    out.destroy()
  }
}

/** Parses and spools the body, indexing it for the judgement; returns the number of relationships. */
async function spool(deps: ImportDeps, body: AsyncIterable<Buffer | string>, file: string, index: JudgementIndex): Promise<number> {
  const out = createWriteStream(file)
  let count = 0
  let end: { line: number; count: number } | undefined
  let buffer = ''
  try {
    for await (const [text, line] of readLines(body, deps.maxBytes)) {
      if (end) throw badLine(line, `follows the end line (line ${end.line})`)
      const parsed = parseLine(text, line, deps.rules)
      if (isEndLine(parsed)) {
        end = { line, count: parsed.count }
        continue
      }
      count++
      index.add(parsed, line)
      buffer += formatLine(parsed)
      if (buffer.length > 64 * 1024) {
        if (!out.write(buffer)) await once(out, 'drain')
        buffer = ''
      }
    }
    if (end && end.count !== count) throw badLine(end.line, `the end line counts ${end.count} relationships, the body holds ${count}: it is incomplete`)
    out.end(buffer)
    await once(out, 'finish')
  } finally {
    out.destroy()
  }
  return count
}

export async function importSet(deps: ImportDeps, body: AsyncIterable<Buffer | string>): Promise<ImportResult> {
  const engine = deps.engine
  if (!engine.exportRelationships || !engine.importRelationships) throw new GatewayError('GW_NOT_SUPPORTED', 501, 'this engine has no bulk import and export')
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-import-'))
  const raw = path.join(dir, 'body.ndjson')
  const file = path.join(dir, 'spool.ndjson')
  try {
    await receive(body, raw, deps.maxBytes)
    const index = new JudgementIndex()
    const at = await engine.headToken()
    const live = await loadLive(engine, deps.types, at, index, deps.signal)
    const count = await spool(deps, createReadStream(raw), file, index)
    const violations = await index.judgeAll()
    if (violations.length) throw invariantRefusal(violations, 'the import')
    if (live.size === 0) {
      const { importedAt } = await engine.importRelationships(pagesOf(file))
      return { importedAt, count, changed: count }
    }
    let changed = 0
    let importedAt = at
    for await (const page of pagesOf(file, (r) => live.get(keyOf(r)) !== caveatOf(r))) {
      importedAt = await engine.writeRelationships(page.map((relationship) => ({ operation: 'touch', relationship })))
      changed += page.length
    }
    return { importedAt, count, changed }
  } catch (err) {
    if (err instanceof GatewayError) throw err
    const e = fromEngineError(err)
    if (e.statusCode === 409) {
      throw conflict(
        'GW_IMPORT_CONFLICT',
        'the engine refused the bulk import (a relationship already exists: written meanwhile, or twice in the body); nothing was written',
        { cause: e.message },
      )
    }
    throw e
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
