/**
 * A server-sent events reader over node's http, for suites that read /v1/changes from a real
 * listening server: it collects events as they arrive and can be cut off mid-stream.
 */
import http from 'node:http'

export interface SseEvent {
  id?: string
  event: string
  data: string
}

export interface SseReader {
  status: Promise<number>
  events: SseEvent[]
  comments: string[]
  ended: Promise<void>
  waitFor(pred: (events: SseEvent[]) => boolean, ms?: number): Promise<void>
  close(): void
}

export function readSse(port: number, path: string, headers: Record<string, string> = {}): SseReader {
  const events: SseEvent[] = []
  const comments: string[] = []
  let buffer = ''
  let onStatus!: (s: number) => void
  let onEnd!: () => void
  const status = new Promise<number>((r) => (onStatus = r))
  const ended = new Promise<void>((r) => (onEnd = r))
  const req = http.get({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
    onStatus(res.statusCode ?? 0)
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      buffer += chunk
      let cut: number
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut)
        buffer = buffer.slice(cut + 2)
        const e: SseEvent = { event: 'message', data: '' }
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments.push(line.slice(1).trim())
          else if (line.startsWith('id: ')) e.id = line.slice(4)
          else if (line.startsWith('event: ')) e.event = line.slice(7)
          else if (line.startsWith('data: ')) e.data += line.slice(6)
        }
        if (e.data) events.push(e)
      }
    })
    res.on('close', onEnd)
  })
  req.on('error', () => onEnd())
  return {
    status,
    events,
    comments,
    ended,
    async waitFor(pred, ms = 20_000) {
      const until = Date.now() + ms
      while (!pred(events)) {
        if (Date.now() > until) throw new Error(`timed out after ${ms} ms with ${events.length} events`)
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    close: () => req.destroy(),
  }
}
