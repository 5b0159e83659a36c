/**
 * Prometheus metrics (prom-client) in a registry of this app's own, so that several apps in
 * one process (tests, benchmarks) never share counters. Other plugins add their metrics here.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import client from 'prom-client'
import { clusterMetrics, isClusterWorker } from '../../cluster.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: {
      registry: client.Registry
      checks: client.Counter<'permissionship'>
      engineErrors: client.Counter<'kind'>
      engineCalls: client.Histogram<'method' | 'outcome'>
      /** changes feeds (GET /v1/changes) open now: routes/changes increments and decrements it */
      openFeeds: client.Gauge
    }
  }
}

async function metricsPlugin(app: FastifyInstance) {
  const registry = new client.Registry()
  // Unprefixed (process_cpu_seconds_total, nodejs_eventloop_lag_seconds...): the names stock
  // Node.js dashboards and alerts query.
  client.collectDefaultMetrics({ register: registry })

  const duration = new client.Histogram({
    name: 'trellis_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  const checks = new client.Counter({
    name: 'trellis_checks_total',
    help: 'permission checks answered, by permissionship; `error`: the engine failed (answered not allowed or 503)',
    labelNames: ['permissionship'],
    registers: [registry],
  })
  const engineErrors = new client.Counter({
    name: 'trellis_engine_errors_total',
    help: 'engine calls that failed, by kind',
    labelNames: ['kind'],
    registers: [registry],
  })

  const engineCalls = new client.Histogram({
    name: 'trellis_engine_call_duration_seconds',
    help: 'calls to the authorization engine (SpiceDB), by port method and outcome (ok or the error kind)',
    labelNames: ['method', 'outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  })
  const openFeeds = new client.Gauge({
    name: 'trellis_changes_feeds_open',
    help: 'changes feeds (GET /v1/changes) open now',
    registers: [registry],
  })

  app.decorate('metrics', { registry, checks, engineErrors, engineCalls, openFeeds })

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown'
    duration.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })

  // In a worker (WORKERS > 1), one scrape answers for every worker: the primary aggregates.
  const everyWorker = isClusterWorker() ? clusterMetrics(registry) : undefined
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.type(registry.contentType)
    return everyWorker ? everyWorker() : registry.metrics()
  })
}

export default fp(metricsPlugin, { name: 'metrics' })
