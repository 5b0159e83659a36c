/**
 * Coalesces concurrent checks into CheckBulkPermissions calls.
 *
 * Every SpiceDB call pays a fixed cost (gRPC middleware, a datastore revision; over FFI
 * about a millisecond), while a bulk call of a hundred items costs little more than one.
 * Checks that arrive in the same turn of the event loop with the same consistency are sent
 * together, in chunks of at most `maxBatch` items, and each caller gets its own slice back.
 * A merged call that fails is split: each caller is answered by a call of its own.
 */
import { EngineError, type CheckAnswer, type CheckItem, type Consistency } from './port.js'

type BulkFn = (items: CheckItem[], consistency: Consistency) => Promise<CheckAnswer>

interface Waiter {
  items: CheckItem[]
  resolve: (a: CheckAnswer) => void
  reject: (e: unknown) => void
}

interface Pending {
  consistency: Consistency
  waiters: Waiter[]
  size: number
}

export class CheckCoalescer {
  private pending = new Map<string, Pending>()
  private scheduled = false

  constructor(
    private readonly bulk: BulkFn,
    private readonly maxBatch = 500,
  ) {}

  check(items: CheckItem[], consistency: Consistency): Promise<CheckAnswer> {
    // Large requests are already batches: send them as they are.
    if (items.length >= this.maxBatch) return this.bulk(items, consistency)
    return new Promise<CheckAnswer>((resolve, reject) => {
      const key = `${consistency.mode}:${consistency.token ?? ''}`
      let p = this.pending.get(key)
      if (p && p.size + items.length > this.maxBatch) {
        this.send(p)
        this.pending.delete(key)
        p = undefined
      }
      if (!p) {
        p = { consistency, waiters: [], size: 0 }
        this.pending.set(key, p)
      }
      p.waiters.push({ items, resolve, reject })
      p.size += items.length
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    const batches = [...this.pending.values()]
    this.pending.clear()
    for (const p of batches) this.send(p)
  }

  private send(p: Pending): void {
    const all = p.waiters.flatMap((w) => w.items)
    this.bulk(all, p.consistency).then(
      (answer) => {
        let offset = 0
        for (const w of p.waiters) {
          w.resolve({ results: answer.results.slice(offset, offset + w.items.length), checkedAt: answer.checkedAt })
          offset += w.items.length
        }
      },
      (err) => {
        // One caller's input can fail the whole merged call (a context the engine refuses): no
        // other caller may get that error. Each caller's checks are sent again on their own, so
        // only the caller at fault fails. An engine that is down fails everyone alike: no retry.
        if (p.waiters.length === 1 || (err instanceof EngineError && err.kind === 'unavailable')) {
          for (const w of p.waiters) w.reject(err)
          return
        }
        for (const w of p.waiters) this.bulk(w.items, p.consistency).then(w.resolve, w.reject)
      },
    )
  }
}
