/**
 * The Redis Streams side of event ingestion as plain functions: reading the raw replies of
 * XREADGROUP, XAUTOCLAIM, XPENDING and XINFO GROUPS, taking the event out of a message, and
 * deciding whether a failure is permanent (dead-letter at once) or transient (redeliver).
 * Kept apart from the consumer loop so each rule can be read, and tested, on its own.
 */

/** One stream entry: its id and its field/value pairs, flat as Redis sends them. */
export interface StreamMessage {
  id: string
  fields: string[]
}

/** The field that carries the event as JSON: `XADD trellis:events * event '{...}'`. */
export const EVENT_FIELD = 'event'

/** A failure of the message itself, before the event reaches `apply`. Always permanent. */
export class MessageError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'MessageError'
  }
}

function isArray(v: unknown): v is unknown[] {
  return Array.isArray(v)
}

function toMessages(entries: unknown): StreamMessage[] {
  if (!isArray(entries)) return []
  const out: StreamMessage[] = []
  for (const e of entries) {
    // A deleted entry still in a PEL comes back as [id, null] from Redis < 7.
    if (isArray(e) && typeof e[0] === 'string') out.push({ id: e[0], fields: isArray(e[1]) ? e[1].map(String) : [] })
  }
  return out
}

/** XREADGROUP ... STREAMS <one stream> -> its messages (null reply: none). */
export function parseReadReply(reply: unknown): StreamMessage[] {
  if (!isArray(reply) || !isArray(reply[0])) return []
  return toMessages(reply[0][1])
}

/** XAUTOCLAIM -> the next cursor, the claimed messages, and the ids whose entries were deleted. */
export function parseAutoClaimReply(reply: unknown): { cursor: string; messages: StreamMessage[]; deleted: string[] } {
  if (!isArray(reply)) return { cursor: '0-0', messages: [], deleted: [] }
  return {
    cursor: String(reply[0] ?? '0-0'),
    messages: toMessages(reply[1]),
    deleted: isArray(reply[2]) ? reply[2].map(String) : [],
  }
}

/** XPENDING <stream> <group> <start> <end> <count> [consumer] -> id -> delivery count. */
export function parseDeliveryCounts(reply: unknown): Map<string, number> {
  const counts = new Map<string, number>()
  if (!isArray(reply)) return counts
  for (const row of reply) {
    if (isArray(row) && typeof row[0] === 'string') counts.set(row[0], Number(row[3]))
  }
  return counts
}

export interface GroupInfo {
  pending: number
  /** entries not yet delivered to the group; null when Redis cannot tell (after XDEL/XTRIM) */
  lag: number | null
  lastDeliveredId: string
}

/** XINFO GROUPS <stream> -> the named group's counters, or undefined when it does not exist. */
export function parseGroupInfo(reply: unknown, group: string): GroupInfo | undefined {
  if (!isArray(reply)) return undefined
  for (const row of reply) {
    if (!isArray(row)) continue
    const info: Record<string, unknown> = {}
    for (let i = 0; i + 1 < row.length; i += 2) info[String(row[i])] = row[i + 1]
    if (info.name !== group) continue
    return {
      pending: Number(info.pending ?? 0),
      lag: info.lag === null || info.lag === undefined ? null : Number(info.lag),
      lastDeliveredId: String(info['last-delivered-id'] ?? '0-0'),
    }
  }
  return undefined
}

/** The raw `event` field of a message, or undefined. */
export function eventField(message: StreamMessage): string | undefined {
  for (let i = 0; i + 1 < message.fields.length; i += 2) {
    if (message.fields[i] === EVENT_FIELD) return message.fields[i + 1]
  }
  return undefined
}

/** The event of a message, parsed; a message without one, or with bad JSON, is permanent. */
export function decodeEvent(message: StreamMessage): unknown {
  const raw = eventField(message)
  if (raw === undefined) {
    throw new MessageError('GW_STREAM_NO_EVENT', `message has no "${EVENT_FIELD}" field (publish: XADD <stream> * ${EVENT_FIELD} '<json>')`)
  }
  try {
    return JSON.parse(raw)
  } catch (err) {
    throw new MessageError('GW_STREAM_INVALID_JSON', `"${EVENT_FIELD}" is not JSON: ${(err as Error).message}`)
  }
}

/**
 * A 4xx answers for the event itself (invalid, refused by the actor check, an invariant): it
 * will fail the same way every time, so retrying only delays it. Everything else (the engine
 * or Redis unavailable, a timeout, a bug) may pass on a later delivery. 408 and 429 are 4xx
 * that mean "try again".
 */
export function isPermanentFailure(err: unknown): boolean {
  if (err instanceof MessageError) return true
  const status = (err as { statusCode?: unknown } | null)?.statusCode
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429
}

export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code !== '' ? code : 'GW_INTERNAL'
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The fields of a dead-letter entry (see docs/streams.md). */
export function deadLetterFields(message: StreamMessage, err: unknown, deliveries: number, consumer: string): string[] {
  return [
    EVENT_FIELD,
    eventField(message) ?? '',
    'error',
    errorMessage(err),
    'code',
    errorCode(err),
    'originalId',
    message.id,
    'deliveries',
    String(deliveries),
    'consumer',
    consumer,
    'failedAt',
    new Date().toISOString(),
  ]
}
