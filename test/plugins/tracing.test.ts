/**
 * Traces: the caller's W3C traceparent becomes the parent of the gateway's request span, each
 * engine call is a child span saying what it asked and what came back, and a SpiceDB server
 * started with --otel-provider makes its spans in the same trace (traceparent in gRPC metadata).
 */
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { spawn } from 'node:child_process'
import { gunzipSync } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { buildTestApp, requirePart } from '../helpers/app.js'
import { seed } from '../helpers/http.js'
import { remoteEnv, spicedbBinary, waitUntilServing } from '../helpers/engine-remote.js'

const traceId = () => randomBytes(16).toString('hex')
const parentSpan = randomBytes(8).toString('hex')

function tracing() {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  return { exporter, tracing: { tracerProvider } }
}

const check = { resource: 'program:p1', permission: 'run', subject: 'user:ana' }

t.test("the gateway's spans hang under the caller's traceparent", async (t) => {
  const { exporter, tracing: options } = tracing()
  const app = await buildTestApp(t, { tracing: options })
  await seed(app, ['program:p1#facilitator@user:ana'])
  exporter.reset()
  const trace = traceId()
  const res = await app.inject({
    method: 'POST',
    url: '/v1/check',
    headers: { traceparent: `00-${trace}-${parentSpan}-01` },
    payload: { ...check, consistency: { mode: 'fully_consistent' } },
  })
  t.equal(res.statusCode, 200)
  t.equal(res.json().allowed, true)

  const spans = exporter.getFinishedSpans()
  const server = spans.find((s) => s.name === 'POST /v1/check')
  t.ok(server, `a request span among ${spans.map((s) => s.name).join(', ')}`)
  t.equal(server!.spanContext().traceId, trace, "in the caller's trace")
  t.equal(server!.parentSpanContext?.spanId, parentSpan, "the caller's span is its parent")
  t.equal(server!.attributes['http.route'], '/v1/check')
  t.equal(server!.attributes['http.response.status_code'], 200)

  const engine = spans.filter((s) => s.name === 'spicedb check')
  t.equal(engine.length, 1, 'one span for the engine call')
  t.equal(engine[0]!.spanContext().traceId, trace)
  t.equal(engine[0]!.parentSpanContext?.spanId, server!.spanContext().spanId, "a child of the request's span")
  t.same(engine[0]!.attributes, {
    ...engine[0]!.attributes,
    'trellis.engine.method': 'check',
    'trellis.consistency.mode': 'fully_consistent',
    'trellis.result': 'has_permission',
  })

  // without a traceparent the request starts a trace of its own
  exporter.reset()
  await app.inject({ method: 'POST', url: '/v1/check', payload: { ...check, subject: 'user:bob' } })
  const own = exporter.getFinishedSpans().find((s) => s.name === 'POST /v1/check')
  t.ok(own && !own.parentSpanContext, 'a root span')
  t.equal(exporter.getFinishedSpans().find((s) => s.name === 'spicedb check')?.attributes['trellis.result'], 'no_permission')
})

t.test('an engine failure marks the engine span and the request span', async (t) => {
  const { exporter, tracing: options } = tracing()
  const app = await buildTestApp(t, { tracing: options })
  await app.engine.close()
  exporter.reset()
  const res = await app.inject({ method: 'POST', url: '/v1/check', payload: check })
  t.equal(res.statusCode, 503)
  const spans = exporter.getFinishedSpans()
  const engine = spans.find((s) => s.name === 'spicedb check')
  t.match(engine?.attributes['trellis.result'], /^error:/)
  t.equal(engine?.status.code, 2, 'engine span status ERROR')
  t.equal(spans.find((s) => s.name === 'POST /v1/check')?.status.code, 2, 'request span status ERROR')
})

t.test('tracing is off by default: no tracer, no spans', async (t) => {
  const app = await buildTestApp(t)
  t.equal(app.tracer, undefined)
})

/** A minimal OTLP/HTTP receiver: keeps the raw export bodies (protobuf; trace ids are bytes in them). */
async function otlpReceiver() {
  const bodies: Buffer[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      bodies.push(req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body)
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf' }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { bodies, port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(r)) }
}

async function freePort() {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as net.AddressInfo
  await new Promise((resolve) => srv.close(resolve))
  return port
}

t.test("with a SpiceDB server, SpiceDB's spans share the caller's trace id", async (t) => {
  const bin = spicedbBinary()
  if (!requirePart(t, 'a spicedb binary (SPICEDB_BIN)', bin !== undefined)) return
  const receiver = await otlpReceiver()
  t.teardown(receiver.close)
  const endpoint = `127.0.0.1:${await freePort()}`
  const key = randomBytes(12).toString('hex')
  const spicedb = spawn(
    bin!,
    [
      'serve',
      `--grpc-addr=${endpoint}`,
      `--grpc-preshared-key=${key}`,
      '--datastore-engine=memory',
      '--http-enabled=false',
      '--metrics-enabled=false',
      '--dispatch-cluster-enabled=false',
      '--telemetry-endpoint=',
      '--skip-release-check',
      '--log-level=warn',
      '--grpc-shutdown-grace-period=1s',
      '--otel-provider=otlphttp',
      `--otel-endpoint=127.0.0.1:${receiver.port}`,
      '--otel-insecure',
      '--otel-sample-ratio=1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  spicedb.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)))
  const exited = new Promise((resolve) => spicedb.once('exit', resolve))
  t.teardown(() => (spicedb.exitCode === null ? spicedb.kill('SIGKILL') : undefined))
  await waitUntilServing(endpoint, key, () => (spicedb.exitCode !== null ? `spicedb exited: ${stderr}` : undefined))

  const { exporter, tracing: options } = tracing()
  const app = await buildApp({ logger: false, config: loadConfig(remoteEnv([endpoint], key)), tracing: options })
  await seed(app, ['program:p1#facilitator@user:ana'])
  const trace = traceId()
  const res = await app.inject({ method: 'POST', url: '/v1/check', headers: { traceparent: `00-${trace}-${parentSpan}-01` }, payload: check })
  t.equal(res.json().allowed, true)
  t.ok(exporter.getFinishedSpans().some((s) => s.name === 'spicedb check' && s.spanContext().traceId === trace))
  await app.close()

  // SpiceDB exports in batches; stopping it flushes the last one
  spicedb.kill('SIGTERM')
  await exited
  const id = Buffer.from(trace, 'hex')
  t.ok(receiver.bodies.length > 0, 'SpiceDB exported spans')
  t.ok(
    receiver.bodies.some((b) => b.includes(id)),
    "a SpiceDB span carries the caller's trace id",
  )
})
