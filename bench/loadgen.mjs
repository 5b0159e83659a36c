/**
 * An HTTP load generator, run as its own process so it never shares a core or an event loop with
 * the system under test (bench/compare.ts pins it with taskset).
 *
 * Reads a job from the file named by argv[2]: { url, headers, bodies[], connections, seconds,
 * warmupSeconds, workers, rate?, writes? }, and writes its summary to result.json beside the job
 * (and prints it as one JSON line).
 *
 * Closed loop (no `rate`): each worker thread keeps `connections / workers` requests in flight on
 * keep-alive sockets, walking `bodies` round robin from its own offset, and records the latency of
 * every 2xx answer. The throughput is the result.
 *
 * Open loop (`rate`, calls per second over all workers): each worker sends on a fixed schedule
 * whatever the answers do, and a call's latency runs from the time it was scheduled to be sent,
 * not from when it went out: a system that stalls is charged for every call the stall held
 * back (no coordinated omission). Calls still unanswered 10 s after the end count as errors.
 *
 * Writes (`writes`: { every, writers, pairs[], allowed }): beside the checks, `writers` writers per
 * worker thread (several, so that slow writes still keep up), together paced to one write per
 * `every` answered checks of that thread, each walking its own share of `pairs`
 * (each { grant, revoke, check }, each { url, headers, body }): grant, check (a denied answer is a
 * missed grant), revoke, check (an allowed answer, matched by the `allowed` pattern, is stale).
 * A writer never leaves a grant behind: one outstanding at the end is revoked, untimed. Each
 * write's body has its `__SEQ__` replaced by a counter of its own (event ids must not repeat).
 *
 * Summary: { requests, total, errors, seconds, p50, p90, p99, p999, max, firstError, rate?,
 * late?, writes?, writeErrors?, writeP50?, writeP99?, stale?, missed? }.
 */
import http from 'node:http'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'

// Plain JavaScript on purpose: worker threads start without tsx's loader, and the device
// machine that runs the 16-core benchmark has a bare node binary.

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

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)))

/**
 * One write stream of a worker (its `slot` of `slots` over all workers); `pace()` resolves once
 * the checks have earned the next write. Pairs are never shared between streams, so a pair's
 * grant always lands before its revoke.
 */
function writer(job, slot, slots, agent, clock) {
  const w = job.writes
  const allowed = new RegExp(w.allowed)
  const mine = w.pairs.filter((_, i) => i % slots === slot)
  const out = { writes: 0, writeErrors: 0, writeLatencies: [], stale: 0, missed: 0, verifies: 0, firstWriteError: undefined }
  let seq = 0
  const call = async (req) => {
    const t0 = performance.now()
    try {
      const res = await post(agent, new URL(req.url), req.headers, req.body.replaceAll('__SEQ__', `${slot}.${seq++}`))
      if (res.status >= 200 && res.status < 300) return { ok: true, text: res.text, ms: performance.now() - t0 }
      out.firstWriteError ??= `${res.status} ${res.text.slice(0, 300)}`
    } catch (err) {
      out.firstWriteError ??= String(err)
    }
    return { ok: false }
  }
  const write = async (req) => {
    const r = await call(req)
    if (!r.ok) out.writeErrors++
    else {
      out.writes++
      if (clock.measuring()) out.writeLatencies.push(r.ms)
    }
    return r.ok
  }
  const verify = async (req, expectAllowed) => {
    const r = await call(req)
    if (!r.ok) return void out.writeErrors++
    out.verifies++
    const isAllowed = allowed.test(r.text)
    if (expectAllowed && !isAllowed) out.missed++
    if (!expectAllowed && isAllowed) out.stale++
  }
  const run = async () => {
    if (mine.length === 0) return out
    for (let k = 0; ; k++) {
      const pair = mine[k % mine.length]
      await clock.pace()
      if (clock.over()) return out
      if (!(await write(pair.grant))) continue
      await verify(pair.check, true)
      await clock.pace()
      // revoked even after the end: no grant is left behind for the next scenario
      while (!(await write(pair.revoke)) && !clock.overBy(10_000)) await sleep(50)
      await verify(pair.check, false)
      if (clock.over()) return out
    }
  }
  return run
}

async function closedLoop(job, index, connections) {
  const url = new URL(job.url)
  const writers = job.writes ? Math.max(1, job.writes.writers ?? 1) : 0
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections + writers })
  const latencies = []
  let errors = 0
  let total = 0
  let firstError
  const start = performance.now()
  const measureFrom = start + job.warmupSeconds * 1000
  const end = measureFrom + job.seconds * 1000
  let next = Math.floor((index * job.bodies.length) / Math.max(1, job.workers))
  // write pacing: one write per `every` answered checks, shared by this worker's writers
  let done = 0
  let granted = 0
  const waiting = []
  const earned = () => Math.floor(done / job.writes.every) > granted
  const clock = {
    measuring: () => performance.now() >= measureFrom && performance.now() <= end,
    over: () => performance.now() >= end,
    overBy: (ms) => performance.now() >= end + ms,
    pace: () => {
      if (performance.now() >= end) return Promise.resolve()
      if (earned()) return (granted++, Promise.resolve())
      return new Promise((r) => waiting.push(r))
    },
  }
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
      done++
      while (waiting.length && earned()) {
        granted++
        waiting.shift()()
      }
    }
  }
  const streams = Array.from({ length: writers }, (_, j) => writer(job, index * writers + j, job.workers * writers, agent, clock)())
  await Promise.all(Array.from({ length: connections }, loop))
  // the checks are over: let writers waiting for their pace finish their pairs
  for (const r of waiting.splice(0)) r()
  const results = await Promise.all(streams)
  const sum = (k) => results.reduce((n, r) => n + r[k], 0)
  const w = writers
    ? {
        writes: sum('writes'),
        writeErrors: sum('writeErrors'),
        stale: sum('stale'),
        missed: sum('missed'),
        verifies: sum('verifies'),
        writeLatencies: results.flatMap((r) => r.writeLatencies),
        firstWriteError: results.find((r) => r.firstWriteError)?.firstWriteError,
      }
    : undefined
  agent.destroy()
  return { latencies, total, errors, firstError, ...w }
}

async function openLoop(job, index) {
  const url = new URL(job.url)
  const workers = Math.max(1, job.workers)
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections })
  const interval = (1000 * workers) / job.rate
  const latencies = []
  let errors = 0
  let total = 0
  let late = 0
  let firstError
  const start = performance.now() + (index * interval) / workers
  const measureFrom = start + job.warmupSeconds * 1000
  const end = measureFrom + job.seconds * 1000
  let next = Math.floor((index * job.bodies.length) / workers)
  const inFlight = new Set()
  const send = (scheduled) => {
    const measured = scheduled >= measureFrom
    const body = job.bodies[next++ % job.bodies.length]
    const p = post(agent, url, job.headers, body).then(
      (res) => {
        const ms = performance.now() - scheduled
        if (res.status < 200 || res.status >= 300) {
          if (measured) errors++
          firstError ??= `${res.status} ${res.text.slice(0, 300)}`
        } else {
          total++
          if (measured) latencies.push(ms)
        }
      },
      (err) => {
        if (measured) errors++
        firstError ??= String(err)
      },
    )
    inFlight.add(p)
    p.finally(() => inFlight.delete(p))
  }
  for (let i = 0; ;) {
    const now = performance.now()
    const scheduled = start + i * interval
    if (scheduled >= end) break
    if (scheduled <= now) {
      // a send 5 ms behind its schedule: the generator itself fell behind (its latency is
      // still charged to the system, as a stall of the system would be)
      if (now - scheduled > 5 && scheduled >= measureFrom) late++
      send(scheduled)
      i++
      continue
    }
    await sleep(scheduled - now)
  }
  const unanswered = await Promise.race([Promise.all(inFlight).then(() => 0), sleep(10_000).then(() => inFlight.size)])
  errors += unanswered
  agent.destroy()
  return { latencies, total, errors, firstError, late }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function main() {
  const job = JSON.parse(readFileSync(process.argv[2], 'utf8'))
  const workers = Math.max(1, Math.min(job.workers, job.connections))
  job.workers = workers
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
  const sum = (k) => results.reduce((n, r) => n + (r[k] ?? 0), 0)
  const round = (x) => Math.round(x * 100) / 100
  const summary = {
    requests: latencies.length,
    total: sum('total'),
    errors,
    seconds: job.seconds,
    p50: round(percentile(latencies, 50)),
    p90: round(percentile(latencies, 90)),
    p99: round(percentile(latencies, 99)),
    p999: round(percentile(latencies, 99.9)),
    max: round(latencies.at(-1) ?? NaN),
    firstError: results.find((r) => r.firstError)?.firstError,
  }
  if (job.rate) Object.assign(summary, { rate: job.rate, late: sum('late') })
  if (job.writes) {
    const wl = results.flatMap((r) => r.writeLatencies ?? []).sort((a, b) => a - b)
    Object.assign(summary, {
      writes: sum('writes'),
      writeErrors: sum('writeErrors'),
      verifies: sum('verifies'),
      writeP50: round(percentile(wl, 50)),
      writeP99: round(percentile(wl, 99)),
      stale: sum('stale'),
      missed: sum('missed'),
      firstWriteError: results.find((r) => r.firstWriteError)?.firstWriteError,
    })
  }
  const text = JSON.stringify(summary)
  writeFileSync(path.join(path.dirname(process.argv[2]), 'result.json'), text)
  console.log(text)
}

if (isMainThread) {
  await main()
} else {
  const { job, index, connections } = workerData
  parentPort.postMessage(await (job.rate ? openLoop(job, index) : closedLoop(job, index, connections)))
}
