/**
 * Coalesces concurrent checks into CheckBulkPermissions calls.
 *
 * Every SpiceDB call pays a fixed cost (gRPC middleware, a datastore revision; over FFI
 * about a millisecond), while a bulk call of a hundred items costs little more than one.
 * Checks that arrive in the same turn of the event loop with the same consistency are sent
 * together, in chunks of at most `maxBatch` items, and each caller gets its own slice back.
 * A merged call that fails is split until only the caller at fault gets the failure.
 */
import { EngineError, type CheckAnswer, type CheckItem, type Consistency } from '../port.js'

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
    this.run(p.waiters, p.consistency)
  }

  /**
   * One merged call for these callers. One caller's input can fail the whole call (a context
   * the engine refuses): no other caller may get that error, so a failed call is split in two
   * and each half sent again, down to the single caller at fault. A bad caller among n costs
   * about 2·log2(n) more calls, never one call per caller at once. An engine that is down
   * fails everyone alike: no retry.
   */
  private run(waiters: Waiter[], consistency: Consistency): void {
    const all = waiters.flatMap((w) => w.items)
    this.bulk(all, consistency).then(
      (answer) => {
        let offset = 0
        for (const w of waiters) {
          w.resolve({ results: answer.results.slice(offset, offset + w.items.length), checkedAt: answer.checkedAt })
          offset += w.items.length
        }
      },
      (err) => {
        if (waiters.length === 1 || (err instanceof EngineError && err.kind === 'unavailable')) {
          for (const w of waiters) w.reject(err)
          return
        }
        const half = Math.ceil(waiters.length / 2)
        this.run(waiters.slice(0, half), consistency)
        this.run(waiters.slice(half), consistency)
      },
    )
  }
}
