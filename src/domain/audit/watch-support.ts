/**
 * Whether the engine can serve Watch (the changes feed), asked by opening one: a datastore
 * that cannot watch fails the call at once (UNIMPLEMENTED: SpiceDB registered no Watch
 * service), while one that can keeps the stream open. So a watch still open after `windowMs`
 * means yes; that answer is kept for `keepMs`, a "no" is asked again next time (it costs one
 * round trip, and an operator who fixes the datastore should see it at once).
 */
import { EngineError, type EnginePort } from '../../engine/port.js'
import { ProbeFinding } from '../wire/errors.js'

export class WatchSupport {
  private servedAt = -Infinity
  private refused: { message: string; at: number } | undefined

  constructor(
    private readonly engine: EnginePort,
    private readonly windowMs = 300,
    private readonly keepMs = 60_000,
  ) {}

  /** resolves when the engine can watch; a ProbeFinding saying why not otherwise */
  async check(): Promise<void> {
    if (!this.engine.watch || Date.now() - this.servedAt < this.keepMs) return
    const stop = new AbortController()
    const timer = setTimeout(() => stop.abort(), this.windowMs)
    try {
      for await (const _ of this.engine.watch({}, stop.signal)) break
      this.servedAt = Date.now()
      this.refused = undefined
    } catch (err) {
      if (err instanceof EngineError && err.kind === 'unsupported') {
        this.refused = { message: err.message, at: Date.now() }
        throw new ProbeFinding(err.message)
      }
      throw err
    } finally {
      clearTimeout(timer)
      stop.abort()
    }
  }

  /**
   * Why the engine could not watch, when a probe (the readiness check) found so within
   * `keepMs`: a feed is then refused before its stream starts, at no engine cost. Feeds do not
   * probe themselves, so they cost no Watch beyond the hub's one.
   */
  recentRefusal(): string | undefined {
    return this.refused && Date.now() - this.refused.at < this.keepMs ? this.refused.message : undefined
  }
}
