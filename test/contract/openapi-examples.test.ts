/**
 * Every example of the served API document runs as shown, as /docs "Try it out" sends it: over
 * real HTTP to the server the document names (`servers: /`), with each documented parameter
 * example, each request body example, the Accept of the documented 2xx content type and a key
 * with every scope. First the first-hour business of POST /v1/events (the example that says to
 * send it first), then the questions and reads, then the writes that change what the later
 * ones find, then every event example in document order. Each must answer 2xx in a documented
 * content type.
 */
import t from 'tap'
import type { AddressInfo } from 'node:net'
import { buildTestApp } from '../helpers/app.js'

const KEY = 'examples-key-0123456789abcdef'
const SEED = 'first-hour business'
/** operations whose examples change state, in the order they must run after the reads */
const WRITES = ['importRelationships', 'writeRelationships', 'deleteRelationships', 'applyEvents']
const NDJSON = 'application/x-ndjson'

interface Parameter {
  name: string
  in: string
  required?: boolean
  example?: string
}
interface Media {
  example?: unknown
  examples?: Record<string, { value: unknown }>
}
interface Operation {
  operationId: string
  parameters?: Parameter[]
  requestBody?: { content: Record<string, Media> }
  responses: Record<string, { description: string; content?: Record<string, unknown> }>
}
interface Call {
  operationId: string
  name: string
  method: string
  path: string
  op: Operation
  body?: unknown
  type?: string
}

/** the documented request body: JSON, or NDJSON (POST /v1/import), with its content type */
function bodyOf(op: Operation): { media: Media; type: string } | undefined {
  for (const type of ['application/json', NDJSON]) {
    const media = op.requestBody?.content[type]
    if (media) return { media, type }
  }
  return undefined
}

/** every example of the document, one call each, in the order they can run */
function calls(doc: { paths: Record<string, Record<string, Operation>> }): Call[] {
  const all: Call[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const { media, type } = bodyOf(op) ?? {}
      const base = { operationId: op.operationId, method: method.toUpperCase(), path, op, type }
      if (!media) all.push({ ...base, name: op.operationId })
      else if (media.examples) for (const [name, ex] of Object.entries(media.examples)) all.push({ ...base, name: `${op.operationId} ${name}`, body: ex.value })
      else all.push({ ...base, name: op.operationId, body: media.example })
    }
  }
  const rank = (c: Call) => (c.name === `applyEvents ${SEED}` ? -2 : WRITES.indexOf(c.operationId))
  return all
    .map((c, i) => [c, i] as const)
    .sort(([a, i], [b, j]) => rank(a) - rank(b) || i - j)
    .map(([c]) => c)
}

/** 2xx content types the operation documents (the one Try it out asks for comes first) */
const okTypes = (op: Operation) =>
  Object.entries(op.responses)
    .filter(([s]) => /^2/.test(s))
    .flatMap(([, r]) => Object.keys(r.content ?? {}))

/** The gateway sheds load with 503 GW_OVERLOADED ("retry shortly") while this small machine is busy: retry that, only that. */
async function retryOverloaded<T extends { status: number; text: string }>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    const res = await attempt()
    if (i >= 10 || res.status !== 503 || !res.text.includes('GW_OVERLOADED')) return res
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
}

async function send(base: string, call: Call) {
  const url = new URL(call.path, base)
  const headers: Record<string, string> = { authorization: `Bearer ${KEY}`, accept: okTypes(call.op)[0] ?? '*/*' }
  for (const p of call.op.parameters ?? []) {
    if (p.example === undefined) continue
    if (p.in === 'query') url.searchParams.set(p.name, p.example)
    else if (p.in === 'header') headers[p.name] = p.example
  }
  if (call.body !== undefined) headers['content-type'] = call.type!
  const abort = new AbortController()
  const res = await fetch(url, {
    method: call.method,
    headers,
    // an NDJSON example is the body's text as shown
    body: call.body === undefined ? undefined : call.type === NDJSON ? (call.body as string) : JSON.stringify(call.body),
    signal: abort.signal,
  })
  const type = res.headers.get('content-type') ?? ''
  let text: string
  if (type.startsWith('text/event-stream')) {
    // a feed does not end: its first event is the proof it runs
    const reader = res.body!.getReader()
    const first = await reader.read()
    text = new TextDecoder().decode(first.value)
    abort.abort()
  } else {
    text = await res.text()
  }
  return { status: res.status, type, text }
}

t.test('every example of the served document runs as shown against the first-hour business', async (t) => {
  const app = await buildTestApp(t, { overrides: { apiKeys: [`full:${KEY}`] } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const served = await retryOverloaded(async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' })
    return { status: res.statusCode, text: res.body }
  })
  t.equal(served.status, 200, `the document is served: ${served.status === 200 ? '' : served.text}`)
  const doc = JSON.parse(served.text)
  t.same(doc.servers, [{ url: '/', description: doc.servers?.[0]?.description }], 'the document names the gateway that serves it')
  const base = new URL(doc.servers[0].url, `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`).href

  const list = calls(doc)
  t.equal(list[0]?.name, `applyEvents ${SEED}`, 'the seed is an example of the document')
  const documented = Object.values(doc.paths as Record<string, Record<string, Operation>>).flatMap((item) => Object.values(item))
  t.ok(list.filter((c) => c.operationId === 'applyEvents').length > 30, 'POST /v1/events shows an example per event type')
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
    for (const [method, op] of Object.entries(item)) {
      const at = `${method.toUpperCase()} ${path}`
      t.match(op.operationId, /^[a-z][A-Za-z]+$/, `${at} has an operationId (src/plugins/external/openapi-operations.ts)`)
      const body = bodyOf(op)
      if (op.requestBody) t.ok(body, `${at}: its body is JSON or NDJSON`)
      if (body) t.ok(body.media.example !== undefined || body.media.examples, `${at}: its body has an example`)
      for (const p of op.parameters ?? []) if (p.required) t.ok(p.example !== undefined, `${at}: required ${p.name} has an example`)
      for (const [status, r] of Object.entries(op.responses)) t.not(r.description, 'Default Response', `${at} ${status} says what it means`)
    }
  }
  t.equal(new Set(list.map((c) => c.operationId)).size, documented.length, 'operationIds are unique')

  for (const call of list) {
    const res = await retryOverloaded(() => send(base, call))
    const ok = res.status >= 200 && res.status < 300
    t.ok(ok, `${call.name}: ${call.method} ${call.path} answers ${res.status}${ok ? '' : ` ${res.text.slice(0, 400)}`}`)
    const types = okTypes(call.op)
    t.ok(
      types.some((type) => res.type.startsWith(type)),
      `${call.name}: ${res.type} is documented (${types.join(', ')})`,
    )
    if (call.operationId === 'importRelationships' && ok) {
      // the example's end line counts its relationships; one of them is new to the business
      const end = JSON.parse((call.body as string).trim().split('\n').at(-1)!) as { count: number }
      t.match(JSON.parse(res.text), { count: end.count, changed: 1 }, 'importRelationships: the whole example was judged, the new line written')
    }
  }
})
