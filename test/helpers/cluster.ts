/**
 * The production topology (scripts/cluster.sh start) as seen by its callers: the gateways
 * named by CLUSTER_GATEWAYS, reached over real HTTP. `httpGateway` gives one the shape of a
 * test app (`inject`, and `engine.readRelationships` answered by GET /v1/relationships), so
 * the suites' own helpers (events, invariants, races, read-your-writes) drive the cluster
 * unchanged. Suites skip on a laptop without the cluster and fail in CI (requirePart).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { parseRelationship } from '../../src/domain/wire/refs.js'
import type { Relationship } from '../../src/engine/port.js'
import { requirePart, type TestApp } from './app.js'

export const gateways = (process.env.CLUSTER_GATEWAYS ?? '').split(',').filter(Boolean)
export const metricsUrls = (process.env.CLUSTER_METRICS ?? '').split(',').filter(Boolean)
const script = process.env.CLUSTER_SCRIPT ?? path.resolve(import.meta.dirname, '../../scripts/cluster.sh')

export function needCluster(t: Test): boolean {
  return requirePart(t, 'the production topology (CLUSTER_GATEWAYS, from `scripts/cluster.sh start`)', gateways.length >= 2)
}

/** ids unique to this run: the cluster keeps its state between suites */
export const runTag = () => randomBytes(3).toString('hex')

interface InjectOptions {
  method: string
  url: string
  payload?: unknown
  headers?: Record<string, string>
}

export interface HttpReply {
  statusCode: number
  body: string
  headers: Record<string, string>
  json(): any
}

export async function request(base: string, opts: InjectOptions, timeoutMs = 15_000): Promise<HttpReply> {
  const headers: Record<string, string> = { ...opts.headers }
  if (process.env.CLUSTER_API_KEY) headers.authorization = `Bearer ${process.env.CLUSTER_API_KEY}`
  let body: string | undefined
  if (opts.payload !== undefined) {
    body = typeof opts.payload === 'string' ? opts.payload : JSON.stringify(opts.payload)
    headers['content-type'] ??= 'application/json'
  }
  const res = await fetch(base + opts.url, { method: opts.method, headers, body, signal: AbortSignal.timeout(timeoutMs) })
  const text = await res.text()
  return { statusCode: res.status, body: text, headers: Object.fromEntries(res.headers), json: () => JSON.parse(text) }
}

/** one gateway of the cluster, shaped as the helpers' TestApp */
export function httpGateway(base: string): TestApp {
  const engine = {
    async readRelationships(filter: { resourceType: string; resourceId?: string }) {
      const relationships: Relationship[] = []
      let cursor = ''
      const resource = `resourceType=${filter.resourceType}${filter.resourceId ? `&resourceId=${encodeURIComponent(filter.resourceId)}` : ''}`
      for (let page = 0; page < 1000; page++) {
        const res = await request(base, { method: 'GET', url: `/v1/relationships?${resource}&limit=1000${cursor}` })
        if (res.statusCode !== 200) throw new Error(`read ${resource}: ${res.statusCode} ${res.body}`)
        const body = res.json() as { relationships: string[]; cursor?: string }
        relationships.push(...body.relationships.map((r) => parseRelationship(r, 'relationship')))
        if (!body.cursor) break
        cursor = `&cursor=${encodeURIComponent(body.cursor)}`
      }
      return { relationships }
    },
  }
  return { inject: (opts: InjectOptions) => request(base, opts), engine, base } as unknown as TestApp
}

export const clusterApps = () => gateways.map(httpGateway)

/** scripts/cluster.sh kill|up PART: the fault tests' hands on each part */
export async function part(command: 'kill' | 'up', name: string, signal?: string): Promise<void> {
  await promisify(execFile)('bash', [script, command, name, ...(signal ? [signal] : [])], { timeout: 120_000 })
}

/** SpiceDB's own Prometheus counters, summed per node, for the metric names that match */
export async function nodeCounters(match: RegExp): Promise<number[]> {
  return Promise.all(
    metricsUrls.map(async (m) => {
      const text = await (await fetch(`${m}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
      let sum = 0
      for (const line of text.split('\n')) if (!line.startsWith('#') && match.test(line)) sum += Number(line.split(' ').at(-1))
      return sum
    }),
  )
}
