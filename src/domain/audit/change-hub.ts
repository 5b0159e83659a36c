/**
 * One SpiceDB Watch per gateway process, fanned out to every open changes feed. Before this
 * each feed ran its own Watch: 1,000 idle feeds made 100 writes 21 times slower (issue 18).
 *
 * The hub opens its Watch (every type; feeds filter for themselves) when the first feed joins,
 * at a verified head token, and closes it, forgetting everything, when the last one leaves.
 * It keeps the last `ringBatches` batches it received, so a feed that resumes from a token the
 * hub received (or started at) joins at that point: everything after it, once, in order.
 * A feed resuming from an older token reads its own catch-up Watch until it meets the hub
 * (src/domain/audit/changes-feed.ts). The hub never waits for a feed: each feed bounds its own backlog
 * and is dropped when it exceeds it, so a slow reader costs only itself.
 */
import type { ChangeBatch, EnginePort } from '../../engine/port.js'

export interface HubMember {
  /** a batch the hub received, every type; called in revision order */
  deliver(batch: ChangeBatch): void
  /** the hub's Watch failed; the member is no longer a member */
  fail(err: unknown): void
}

export interface HubOptions {
  /** recent batches kept for feeds that resume (default 1024) */
  ringBatches?: number
  /** and at most about this many bytes of them (default 16 MiB): a few huge batches must not pin memory */
  ringBytes?: number
}

/** about what a batch costs held in memory: its strings, plus a little per change */
export function batchBytes(batch: ChangeBatch): number {
  let n = batch.token.length
  for (const c of batch.changes) {
    const r = c.relationship
    n +=
      64 + r.resource.type.length + r.resource.id.length + r.relation.length + r.subject.type.length + r.subject.id.length + (r.subject.relation?.length ?? 0)
  }
  return n
}

export class ChangeHub {
  /** engine Watches opened and open now, the hub's and feeds' catch-ups (/metrics reports them) */
  readonly stats = { opened: 0, open: 0 }
  private readonly members = new Set<HubMember>()
  private readonly ringSize: number
  private readonly ringBytes: number
  /** batches received since the Watch opened (the most recent ringSize), oldest first */
  private ring: ChangeBatch[] = []
  private ringHeld = 0
  /** the token the ring starts after: the Watch's start, or the last batch trimmed off */
  private base?: string
  private opening?: Promise<void>
  /** feeds alive (members or not): the Watch stays open while there are any */
  private waiting = 0
  private controller?: AbortController
  /** bumped whenever the Watch closes, so a late batch of an old Watch is ignored */
  private generation = 0

  constructor(
    private readonly engine: EnginePort,
    opts: HubOptions = {},
  ) {
    this.ringSize = opts.ringBatches ?? 1024
    this.ringBytes = opts.ringBytes ?? 16 * 1024 * 1024
  }

  /** counts an engine Watch for as long as `signal` is not aborted (feeds' catch-ups use it too) */
  counted(signal: AbortSignal) {
    if (signal.aborted) return
    this.stats.opened++
    this.stats.open++
    signal.addEventListener('abort', () => this.stats.open--, { once: true })
  }

  /** feeds reading from the hub (a feed catching up on its own Watch is not one yet) */
  get size() {
    return this.members.size
  }

  /** the newest token the hub has passed on (or started at); undefined while closed */
  get newest(): string | undefined {
    return this.ring.at(-1)?.token ?? this.base
  }

  /**
   * Joins `member` (reserved first) right after `after`, or right before `before`, or after the
   * newest batch when neither is given, handing it the batches since and the token it joined
   * after (`onJoin`, synchronously, before any later batch). Undefined: the hub holds no such
   * token (older than its ring, or never seen); the member is then not joined.
   */
  async join(member: HubMember, at: { after?: string; before?: string }, onJoin: (from: string, backlog: ChangeBatch[]) => void): Promise<string | undefined> {
    await this.open()
    if (!this.controller) throw new Error('the engine watch ended')
    const i = at.before !== undefined ? (this.position(at.before) ?? 0) - 1 : at.after !== undefined ? this.position(at.after) : this.ring.length
    if (i === undefined || i < 0) return undefined
    onJoin(i === 0 ? this.base! : this.ring[i - 1]!.token, this.ring.slice(i))
    this.members.add(member)
    return this.newest
  }

  /** a feed's claim on the Watch for its whole life, member or not (a catch-up meets the hub) */
  reserve() {
    this.waiting++
  }

  release(member: HubMember) {
    this.members.delete(member)
    this.waiting--
    this.closeIfIdle()
  }

  /** stops delivering to `member` (already released) */
  leave(member: HubMember) {
    if (this.members.delete(member)) this.closeIfIdle()
  }

  /** the token the hub's batches start after; undefined while closed */
  get startsAfter(): string | undefined {
    return this.base
  }

  /** true when `token` is one the hub holds (a feed catching up can switch to the hub there) */
  holds(token: string): boolean {
    return this.position(token) !== undefined
  }

  private position(token: string): number | undefined {
    for (let i = this.ring.length - 1; i >= 0; i--) if (this.ring[i]!.token === token) return i + 1
    return token === this.base ? 0 : undefined
  }

  private open(): Promise<void> {
    if (this.controller) return Promise.resolve()
    this.opening ??= (async () => {
      try {
        const start = await this.engine.headToken()
        if (this.members.size === 0 && this.waiting === 0) return
        this.base = start
        this.ring = []
        this.ringHeld = 0
        this.controller = new AbortController()
        void this.run(this.controller.signal, start, this.generation)
      } finally {
        this.opening = undefined
      }
    })()
    return this.opening
  }

  private async run(signal: AbortSignal, after: string, generation: number) {
    this.counted(signal)
    try {
      for await (const batch of this.engine.watch!({ after }, signal)) {
        if (generation !== this.generation) return
        this.ring.push(batch)
        this.ringHeld += batchBytes(batch)
        while (this.ring.length > 1 && (this.ring.length > this.ringSize || this.ringHeld > this.ringBytes)) {
          const old = this.ring.shift()!
          this.ringHeld -= batchBytes(old)
          this.base = old.token
        }
        for (const m of [...this.members]) m.deliver(batch)
      }
      // the engine ended the Watch without an error (it should not): as a failure, so feeds say so
      if (generation === this.generation && !signal.aborted) throw new Error('the engine ended its watch')
    } catch (err) {
      if (generation !== this.generation || signal.aborted) return
      const members = [...this.members]
      this.members.clear()
      this.close()
      for (const m of members) m.fail(err)
    }
  }

  private closeIfIdle() {
    if (this.members.size === 0 && this.waiting === 0 && !this.opening) this.close()
  }

  private close() {
    this.generation++
    this.controller?.abort()
    this.controller = undefined
    this.ring = []
    this.ringHeld = 0
    this.base = undefined
  }
}
