/**
 * A closed-loop HTTP load generator, run as its own process so it never shares a core or an
 * event loop with the system under test (bench/compare.ts pins it with taskset).
 *
 * Reads a job from the file named by argv[2]: { url, headers, bodies[], connections, seconds,
 * warmupSeconds, workers }. Each worker thread keeps `connections / workers` requests in flight
 * on keep-alive sockets, walking `bodies` round robin from its own offset, and records the
 * latency of every 2xx answer. Prints one JSON line, and writes it to result.json beside the job: { requests, total, errors, seconds, p50, p90, p99,
 * max, firstError }.
 */
import http from 'node:http'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'

// Plain JavaScript on purpose: worker threads start without tsx's loader, and the device
// machine that runs the 16-core benchmark has a bare node binary.
// A worker's result: { latencies, total (every 2xx, warm-up included: CPU per check divides
// by it), errors, firstError }.

function post(agent, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function runWorker(job, index, connections) {
  const url = new URL(job.url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const latencies = []
  let errors = 0
  let total = 0
  let firstError
  const start = performance.now()
  const measureFrom = start + job.warmupSeconds * 1000
  const end = measureFrom + job.seconds * 1000
  let next = Math.floor((index * job.bodies.length) / Math.max(1, job.workers))
  const loop = async () => {
    for (;;) {
      const t0 = performance.now()
      if (t0 >= end) return
      const body = job.bodies[next++ % job.bodies.length]
      try {
        const res = await post(agent, url, job.headers, body)
        const t1 = performance.now()
        if (res.status < 200 || res.status >= 300) {
          if (t0 >= measureFrom) errors++
          firstError ??= `${res.status} ${res.text.slice(0, 300)}`
        } else {
          total++
          if (t0 >= measureFrom && t1 <= end) latencies.push(t1 - t0)
        }
      } catch (err) {
        if (t0 >= measureFrom) errors++
        firstError ??= String(err)
      }
    }
  }
  await Promise.all(Array.from({ length: connections }, loop))
  agent.destroy()
  return { latencies, total, errors, firstError }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function main() {
  const job = JSON.parse(readFileSync(process.argv[2], 'utf8'))
  const workers = Math.max(1, Math.min(job.workers, job.connections))
  const self = fileURLToPath(import.meta.url)
  const results = await Promise.all(
    Array.from({ length: workers }, (_, i) => {
      const connections = Math.floor(job.connections / workers) + (i < job.connections % workers ? 1 : 0)
      return new Promise((resolve, reject) => {
        const w = new Worker(self, { workerData: { job, index: i, connections } })
        w.once('message', resolve)
        w.once('error', reject)
      })
    }),
  )
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b)
  const errors = results.reduce((n, r) => n + r.errors, 0)
  const round = (x) => Math.round(x * 100) / 100
  const summary = JSON.stringify({
      requests: latencies.length,
      total: results.reduce((n, r) => n + r.total, 0),
      errors,
      seconds: job.seconds,
      p50: round(percentile(latencies, 50)),
      p90: round(percentile(latencies, 90)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies.at(-1) ?? NaN),
      firstError: results.find((r) => r.firstError)?.firstError,
    })
  writeFileSync(path.join(path.dirname(process.argv[2]), 'result.json'), summary)
  console.log(summary)
}

if (isMainThread) {
  await main()
} else {
  const { job, index, connections } = workerData
  parentPort.postMessage(await runWorker(job, index, connections))
}
