/**
 * The cursor of a paged read under read-your-writes: SpiceDB's cursor, with the consistency the
 * first page was read at, so every later page is read at the same revision (a page of a lookup
 * from one snapshot and the next from another could skip or repeat results). Anything that does
 * not unwrap is passed on as it came: SpiceDB judges it.
 */
import type { Consistency } from '../port.js'

export function wrapCursor(c: Consistency, cursor: string): string {
  return Buffer.from(JSON.stringify([c.mode, c.token ?? '', cursor])).toString('base64url')
}

export function unwrapCursor(s: string): { consistency: Consistency; cursor: string } | undefined {
  try {
    const [mode, token, cursor] = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown[]
    if (typeof cursor !== 'string' || typeof token !== 'string') return undefined
    if (mode === 'at_least_as_fresh' && token) return { consistency: { mode, token }, cursor }
    if (mode === 'fully_consistent' || mode === 'minimize_latency') return { consistency: { mode }, cursor }
  } catch {
    // not ours: SpiceDB judges it
  }
  return undefined
}
