/** Builds ZedTokens the way SpiceDB encodes them, for the unit layer (not a test file). */
import { decodeZedToken, type Revision } from '../../../src/engine/revision.js'

function varint(n: bigint | number): number[] {
  let v = BigInt(n)
  const out: number[] = []
  do {
    let b = Number(v & 0x7fn)
    v >>= 7n
    if (v > 0n) b |= 0x80
    out.push(b)
  } while (v > 0n)
  return out
}

const bytesField = (field: number, bytes: Uint8Array | number[]) => [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes]
const varintField = (field: number, n: number) => [...varint(field << 3), ...varint(n)]

/** base64 of DecodedZedToken { v1 (3): { revision (1), datastore_unique_id (2) } } */
export function zedToken(revision: string, datastoreId = 'ds'): string {
  const v1 = [...bytesField(1, Buffer.from(revision)), ...bytesField(2, Buffer.from(datastoreId))]
  return Buffer.from(bytesField(3, v1)).toString('base64')
}

/** base64 of PostgresRevision { xmin (1), relative_xmax (2), relative_xips (3), txid (4) } */
export function pgRevisionString(s: { xmin: number; xmax: number; xips?: number[]; packed?: boolean }): string {
  const rel = (s.xips ?? []).map((x) => x - s.xmin)
  const xips = s.packed === false ? rel.flatMap((r) => varintField(3, r)) : rel.length ? bytesField(3, rel.flatMap((r) => varint(r))) : []
  return Buffer.from([...varintField(1, s.xmin), ...varintField(2, s.xmax - s.xmin), ...xips, ...varintField(4, s.xmax)]).toString('base64')
}

export const pgToken = (s: { xmin: number; xmax: number; xips?: number[]; packed?: boolean }, datastoreId = 'pg') => zedToken(pgRevisionString(s), datastoreId)

export const pgRevision = (s: { xmin: number; xmax: number; xips?: number[] }): Revision => decodeZedToken(pgToken(s))!.revision
