/**
 * The ZedTokens of the gateway's own writes, so that default reads can be answered at least
 * as fresh as every write the gateway acknowledged, without the caller passing a token.
 *
 * Writes finish out of order and, on Postgres, two concurrent writes can each produce a
 * token that does not cover the other. So the store keeps the *frontier*: every recorded
 * token that no other recorded token covers. One token is the common case; several mean the
 * reader needs a revision covering them all (see src/engine/consistency/read-your-writes.ts).
 *
 * Contract: `record` resolves only once every later `frontier()` call, on any replica sharing
 * the store, includes the token or one covering it. The engine adapter records a write's token
 * before the write is acknowledged to the caller.
 */
import { compareTokens, decodeZedToken, type DecodedToken } from './revision.js'

export interface ZedTokenStore {
  readonly description: string
  record(token: string): Promise<void>
  /** the uncovered tokens recorded so far (none before the first write) */
  frontier(): Promise<string[]>
}

const decoded = new Map<string, DecodedToken | undefined>()

/** Decodes with a small cache: a busy gateway meets the same few tokens over and over. */
export function decodeCached(token: string): DecodedToken | undefined {
  if (decoded.has(token)) return decoded.get(token)
  if (decoded.size > 10_000) decoded.clear()
  const d = decodeZedToken(token)
  decoded.set(token, d)
  return d
}

/** true when a read at `a` sees every write that `b` saw */
export function coversToken(a: string, b: string): boolean {
  if (a === b) return true
  const order = compareTokens(decodeCached(a), decodeCached(b))
  return order === 'after' || order === 'same'
}

/**
 * Splits tokens into the frontier and the covered rest. Of two equal revisions the smaller
 * string stays, so two replicas pruning at once never remove both.
 */
export function splitFrontier(tokens: Iterable<string>): { frontier: string[]; covered: string[] } {
  const all = [...new Set(tokens)].sort()
  const frontier: string[] = []
  const covered: string[] = []
  for (const t of all) {
    const d = decodeCached(t)
    const beaten = all.some((o) => {
      if (o === t) return false
      const order = compareTokens(decodeCached(o), d)
      return order === 'after' || (order === 'same' && o < t)
    })
    // An undecodable token can never be shown covered: it stays until a decodable one
    // is recorded after it (see MemoryZedTokenStore.record).
    ;(beaten ? covered : frontier).push(t)
  }
  return { frontier, covered }
}

/** In-process: exact for one gateway; replicas do not see each other's writes. */
export class MemoryZedTokenStore implements ZedTokenStore {
  readonly description = 'in-process'
  private tokens: string[] = []

  async record(token: string): Promise<void> {
    // Tokens we cannot read (another datastore's format) replace the frontier: the newest
    // write then stands for the older ones, as a plain "last token" would.
    if (!decodeCached(token)) this.tokens = [token]
    else this.tokens = splitFrontier([...this.tokens.filter((t) => decodeCached(t)), token]).frontier
  }

  async frontier(): Promise<string[]> {
    return this.tokens
  }
}
