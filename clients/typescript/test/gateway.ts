/**
 * A real gateway for the client's tests: the repository's own buildApp on the embedded engine,
 * listening on a free port with an API key, seeded by nothing. And a proxy in front of it that
 * a test tells to fail chosen requests, to see the client's retries.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { buildApp } from '../../../src/app.js'
import { loadConfig } from '../../../src/config.js'

export const KEY = 'client-tests-0123456789'

export async function startGateway(t: Test) {
  const app = await buildApp({
    logger: false,
    config: loadConfig({ API_KEYS: `svc:${KEY}`, EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true', LOG_LEVEL: 'silent' }),
  })
  t.teardown(() => app.close())
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url }
}

export interface Seen {
  method: string
  path: string
  body: string
}

/**
 * Forwards to `target`. `fail(seen, n)` may answer instead: a status with headers, or `drop`
 * (the request reaches the gateway, then the caller's connection is cut before any answer).
 */
export async function startProxy(
  t: Test,
  target: string,
  fail: (seen: Seen, n: number) => { status: number; headers?: Record<string, string> } | 'drop' | undefined,
) {
  const seen: Seen[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const s = { method: req.method!, path: req.url!, body: Buffer.concat(chunks).toString() }
      seen.push(s)
      const verdict = fail(s, seen.length)
      if (verdict && verdict !== 'drop') {
        res.writeHead(verdict.status, { 'content-type': 'application/json', ...verdict.headers })
        return res.end(
          JSON.stringify({
            statusCode: verdict.status,
            code: verdict.status === 429 ? 'GW_RATE_LIMITED' : 'GW_ENGINE_UNAVAILABLE',
            error: 'x',
            message: 'from the test proxy',
          }),
        )
      }
      const answer = await fetch(`${target}${req.url}`, {
        method: req.method,
        headers: {
          ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}),
          ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        },
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      })
      const text = await answer.text()
      if (verdict === 'drop') return req.socket.destroy()
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' })
      res.end(text)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(resolve)
      }),
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}
