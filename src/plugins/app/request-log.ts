/**
 * One log line per request, written when the response is done: method, url, status, time,
 * request id (pino's reqId), the caller's key name, and on an error answer its `code`.
 *
 * Fastify's own request logging writes two lines (incoming, completed) with neither the key
 * nor the error code, so an operator reading a 4xx had to join lines and guess the cause; it is
 * turned off in app.ts (logController) in favour of this one. A 5xx still gets the error
 * handler's own line with its cause, which callers never see.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** the `code` of each error answer, read as it is sent */
const codes = new WeakMap<FastifyRequest, string>()

async function requestLogPlugin(app: FastifyInstance) {
  app.addHook('onSend', async (req, reply, payload) => {
    // error bodies are small JSON objects the gateway wrote ({statusCode, code, ...})
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.startsWith('{')) {
      try {
        const code = (JSON.parse(payload) as { code?: unknown }).code
        if (typeof code === 'string') codes.set(req, code)
      } catch {
        // not JSON after all: the line goes without a code
      }
    }
    // A caller that left before its answer gets no response 'finish', so no onResponse: its line
    // is written when the gateway gives up on it (499 GW_CLIENT_CLOSED, its engine work cancelled).
    if (reply.statusCode === 499) writeLine(req, reply)
    return payload
  })

  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode !== 499) writeLine(req, reply)
  })

  function writeLine(req: FastifyRequest, reply: FastifyReply) {
    const status = reply.statusCode
    const line: Record<string, unknown> = {
      method: req.method,
      url: req.url,
      status,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      key: req.caller?.keyName ?? 'anonymous',
    }
    const code = codes.get(req)
    if (code) line.code = code
    if (status >= 500) req.log.error(line, 'request')
    else req.log.info(line, 'request')
  }
}

export default fp(requestLogPlugin, { name: 'request-log' })
