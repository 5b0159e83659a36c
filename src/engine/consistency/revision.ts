/**
 * ZedTokens opened up, so the gateway can tell which of two writes a token covers.
 *
 * A ZedToken is base64 of SpiceDB's `DecodedZedToken` protobuf: field 3 (`v1`) holds the
 * datastore's revision string (field 1) and the datastore's unique id (field 2). The revision
 * string depends on the datastore:
 * - memdb, CockroachDB, MySQL, Spanner: a decimal (`1795418508726347189`, `1700000000.0000000001`),
 *   totally ordered;
 * - Postgres: base64 of `PostgresRevision` {xmin, relative_xmax, relative_xips, txid, timestamp},
 *   a snapshot. Snapshots are only partially ordered: two writes that commit concurrently each
 *   see themselves but not the other, so neither token covers the other ("concurrent").
 *
 * Everything here is pure; a token that cannot be decoded compares as `unknown`.
 */

export type Revision =
  | { kind: 'decimal'; int: bigint; frac: string }
  /** visible(t) = t < xmax and t not in xip (xmin only shortens the encoding) */
  | { kind: 'snapshot'; xmax: bigint; xip: ReadonlySet<bigint> }

export interface DecodedToken {
  datastoreId: string
  revision: Revision
}

export type Order = 'before' | 'same' | 'after' | 'concurrent' | 'unknown'

/** Reads protobuf varints from a buffer. */
class Reader {
  i = 0
  constructor(readonly buf: Uint8Array) {}
  get done() {
    return this.i >= this.buf.length
  }
  varint(): bigint {
    let v = 0n
    for (let shift = 0n; ; shift += 7n) {
      if (this.done || shift > 63n) throw new Error('bad varint')
      const b = this.buf[this.i++]!
      v |= BigInt(b & 0x7f) << shift
      if (!(b & 0x80)) return v
    }
  }
}

/** Protobuf fields of one message: varints as bigint, length-delimited as bytes. */
function fields(buf: Uint8Array): Map<number, (bigint | Uint8Array)[]> {
  const out = new Map<number, (bigint | Uint8Array)[]>()
  const r = new Reader(buf)
  while (!r.done) {
    const key = r.varint()
    const wire = Number(key & 7n)
    let value: bigint | Uint8Array
    if (wire === 0) value = r.varint()
    else if (wire === 2) {
      const len = Number(r.varint())
      if (r.i + len > buf.length) throw new Error('truncated field')
      value = buf.subarray(r.i, r.i + len)
      r.i += len
    } else throw new Error(`unsupported wire type ${wire}`)
    const field = Number(key >> 3n)
    out.set(field, [...(out.get(field) ?? []), value])
  }
  return out
}

const text = (v: bigint | Uint8Array | undefined) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : '')
const num = (v: bigint | Uint8Array | undefined) => (typeof v === 'bigint' ? v : 0n)

/** repeated int64, packed or not */
function repeated(values: (bigint | Uint8Array)[] | undefined): bigint[] {
  const out: bigint[] = []
  for (const v of values ?? []) {
    if (typeof v === 'bigint') out.push(v)
    else for (const r = new Reader(v); !r.done;) out.push(r.varint())
  }
  return out
}

function parseRevision(s: string): Revision | undefined {
  const dec = /^(\d+)(?:\.(\d+))?$/.exec(s)
  if (dec) return { kind: 'decimal', int: BigInt(dec[1]!), frac: (dec[2] ?? '').replace(/0+$/, '') }
  try {
    const f = fields(Buffer.from(s, 'base64'))
    const xmin = num(f.get(1)?.[0])
    const xmax = xmin + num(f.get(2)?.[0])
    const xip = new Set(repeated(f.get(3)).map((r) => xmin + r))
    return xmax >= xmin ? { kind: 'snapshot', xmax, xip } : undefined
  } catch {
    return undefined
  }
}

/** The token's revision and datastore, or undefined when it is not a v1 ZedToken we can read. */
export function decodeZedToken(token: string): DecodedToken | undefined {
  try {
    const v1 = fields(Buffer.from(token, 'base64')).get(3)?.[0]
    if (!(v1 instanceof Uint8Array)) return undefined
    const f = fields(v1)
    const revision = parseRevision(text(f.get(1)?.[0]))
    return revision ? { datastoreId: text(f.get(2)?.[0]), revision } : undefined
  } catch {
    return undefined
  }
}

/** true when every transaction visible in `b` is visible in `a` */
function covers(a: Extract<Revision, { kind: 'snapshot' }>, b: Extract<Revision, { kind: 'snapshot' }>): boolean {
  // b sees every t < b.xmax outside b.xip; a must see each: none of them at or above a.xmax...
  for (let t = a.xmax; t < b.xmax; t++) if (!b.xip.has(t)) return false
  // ...and none of them among a's in-progress transactions.
  for (const t of a.xip) if (t < b.xmax && !b.xip.has(t)) return false
  return true
}

export function compareRevisions(a: Revision, b: Revision): Order {
  if (a.kind === 'decimal' && b.kind === 'decimal') {
    if (a.int !== b.int) return a.int < b.int ? 'before' : 'after'
    const width = Math.max(a.frac.length, b.frac.length)
    const [fa, fb] = [a.frac.padEnd(width, '0'), b.frac.padEnd(width, '0')]
    return fa === fb ? 'same' : fa < fb ? 'before' : 'after'
  }
  if (a.kind === 'snapshot' && b.kind === 'snapshot') {
    const ab = covers(a, b)
    const ba = covers(b, a)
    return ab && ba ? 'same' : ab ? 'after' : ba ? 'before' : 'concurrent'
  }
  return 'unknown'
}

/** How token `a` relates to token `b`: `after` means a read at `a` sees every write `b` saw. */
export function compareTokens(a: DecodedToken | undefined, b: DecodedToken | undefined): Order {
  if (!a || !b || a.datastoreId !== b.datastoreId) return 'unknown'
  return compareRevisions(a.revision, b.revision)
}
