/** The app's JSON log lines, captured from a stream handed to its logger, for tests that read them. */
import { Writable } from 'node:stream'

export function captureLog() {
  const lines: Record<string, any>[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l))
      done()
    },
  })
  return { lines, stream }
}
