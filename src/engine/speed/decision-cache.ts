/**
 * Check answers remembered until the next write, for an engine this process is the only writer
 * of: the embedded engine on its in-memory datastore, which no other process can reach.
 *
 * Every write through the engine (relationships written or deleted, the schema) moves a
 * generation counter when it starts and again when it ends, whether it succeeded or not. An
 * answer is kept only when it was computed with no write in flight and the generation did not
 * move while it was computed: then no write started or finished in between, so the answer is
 * the answer of the current state, for every consistency mode. An answer is served only while
 * no write is in flight and the generation is still the one it was computed in. So a check that
 * begins after a write was acknowledged never sees an answer from before that write, and a
 * revoke is never answered from an allow cached before it.
 *
 * Not kept: checks with a caveat context (their answer depends on it, `now` included),
 * conditional answers and errors. A check naming a token the kept answers do not cover goes
 * to the engine, which judges it.
 *
 * SpiceDB caches sub-problems per revision too, but a cached answer here skips the call, the
 * FFI crossing and the protobuf work of a check that was already answered (issue 9).
 */
import type { CheckAnswer, CheckItem, CheckResult, Consistency } from '../port.js'
import { coversToken } from '../consistency/zedtoken-store.js'

function itemKey(i: CheckItem): string {
  const s = i.subject
  return `${i.resource.type}:${i.resource.id}#${i.permission}@${s.type}:${s.id}${s.relation ? `#${s.relation}` : ''}`
}

export class DecisionCache {
  readonly stats = { hits: 0, misses: 0 }
  private generation = 0
  private writesInFlight = 0
  private entries = new Map<string, CheckResult>()
  private entriesGeneration = 0
  /** the token of the latest kept answer: every kept answer is of the same state */
  private answeredAt?: string
  /** the token of the last write that finished */
  private lastWrite?: string

  constructor(private readonly maxEntries: number) {}

  /** Runs a write; kept answers are dropped, and none is kept while it runs. */
  async writing<T>(write: () => Promise<T>, token?: (r: T) => string): Promise<T> {
    this.generation++
    this.writesInFlight++
    try {
      const r = await write()
      if (token) this.lastWrite = token(r)
      return r
    } finally {
      this.writesInFlight--
      this.generation++
    }
  }

  private closed = false

  /**
   * Drops every kept answer (the engine failed: whatever the failure, checks go to the engine
   * again, so a broken engine answers 503, never a kept allow). With `forever`, keeps none again
   * (the engine was closed).
   */
  drop(forever = false) {
    this.generation++
    if (forever) this.closed = true
  }

  private usable(): boolean {
    if (this.closed || this.writesInFlight > 0) return false
    if (this.entriesGeneration !== this.generation) {
      this.entries.clear()
      this.entriesGeneration = this.generation
      this.answeredAt = undefined
    }
    return true
  }

  /**
   * Answers from kept answers where it can and asks `engine` for the rest, keeping what may be
   * kept. The answer's token is the engine's when it was asked, else the kept answers'.
   */
  async check(items: CheckItem[], c: Consistency, engine: (items: CheckItem[]) => Promise<CheckAnswer>): Promise<CheckAnswer> {
    const startGeneration = this.generation
    const startClean = this.usable()
    // A caller's token that the kept answers do not cover (another datastore's, or a format we
    // cannot read) is the engine's to judge.
    const served = startClean && this.answeredAt !== undefined && !(c.mode === 'at_least_as_fresh' && c.token && !coversToken(this.answeredAt, c.token))
    const results: (CheckResult | undefined)[] = items.map((i) => (served && !i.context ? this.entries.get(itemKey(i)) : undefined))
    const missing = items.filter((_, n) => !results[n])
    this.stats.hits += items.length - missing.length
    this.stats.misses += missing.length
    if (missing.length === 0 && this.answeredAt) return { results: results as CheckResult[], checkedAt: this.answeredAt }
    const answer = await engine(missing)
    // Kept answers are of the state when this call began: if a write moved it meanwhile, they
    // and the engine's answer may be of different states; one answer must be of one, so ask again.
    if (missing.length < items.length && this.generation !== startGeneration) return engine(items)
    // Kept only when no write started, ran or finished while it was computed, and the answer is
    // of a revision at least as new as the last write (SpiceDB's shared head lookup can answer a
    // fully consistent check from before it; such an answer is passed on, not kept).
    const keep = startClean && this.generation === startGeneration && this.usable() && (!this.lastWrite || coversToken(answer.checkedAt, this.lastWrite))
    let next = 0
    const out = results.map((r) => r ?? answer.results[next++]!)
    if (keep) {
      missing.forEach((item, n) => {
        const r = answer.results[n]!
        if (item.context || r.error || r.missingContext || r.permissionship === 'conditional') return
        if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
        this.entries.set(itemKey(item), r)
      })
      this.answeredAt = answer.checkedAt
    }
    return { results: out, checkedAt: answer.checkedAt }
  }
}
