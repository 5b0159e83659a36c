/**
 * The CLI's progress line on stderr: a bar when the total is known (an import's file size),
 * a running count otherwise (an export's lines), redrawn at most ten times a second so a fast
 * transfer does not spend its time drawing. Shown when stderr is a terminal, or with
 * TRELLIS_PROGRESS=1 (a log that wants it); off with TRELLIS_PROGRESS=0.
 */
const WIDTH = 30

export const progressShown = (env = process.env, tty = Boolean(process.stderr.isTTY)) => env.TRELLIS_PROGRESS === '1' || (env.TRELLIS_PROGRESS !== '0' && tty)

export function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

/** `[#######.......]  45%  12.0 MB of 27.0 MB` */
export function bar(done: number, total: number): string {
  const share = total > 0 ? Math.min(1, done / total) : 1
  const filled = Math.round(share * WIDTH)
  return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.round(share * 100)).padStart(3)}%`
}

export class Progress {
  private last = 0
  private drawn = false
  readonly started = performance.now()

  constructor(
    private readonly shown = progressShown(),
    private readonly out: NodeJS.WritableStream = process.stderr,
  ) {}

  /** redraws the line (throttled unless `force`) */
  update(text: string, force = false) {
    if (!this.shown) return
    const now = performance.now()
    if (!force && now - this.last < 100) return
    this.last = now
    this.drawn = true
    this.out.write(`\r${text}  ${this.elapsed()}\x1b[K`)
  }

  /** seconds since the start, for the line and the summary */
  elapsed(): string {
    return `${((performance.now() - this.started) / 1000).toFixed(1)} s`
  }

  /** ends the progress line so the summary starts on its own */
  end() {
    if (this.drawn) this.out.write('\n')
    this.drawn = false
  }
}
