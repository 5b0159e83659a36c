/**
 * What operators run against the gateway's metrics: the Grafana dashboard and the alert rules
 * in deploy/monitoring name only metrics a real gateway exports (scraped from /metrics of an
 * app with every exporter on: Redis, the event stream), and the ServiceMonitor scrapes the
 * gateway's Service. `promtool check rules` (scripts/promtool.sh) checks the rules' PromQL.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { buildTestApp, requirePart } from '../helpers/app.js'
import { redisUrl, uniqueEvents } from '../fixtures/stream-support.js'

const dir = new URL('../../deploy/monitoring/', import.meta.url)
const dashboard = JSON.parse(readFileSync(new URL('grafana-dashboard.json', dir), 'utf8'))
const rule = parse(readFileSync(new URL('prometheusrule.yaml', dir), 'utf8'))
const monitor = parse(readFileSync(new URL('servicemonitor.yaml', dir), 'utf8'))
const service = parse(readFileSync(new URL('../../deploy/gateway/service.yaml', import.meta.url), 'utf8'))

/** Prometheus writes `up` itself for every target it scrapes */
const PROMETHEUS_OWN = new Set(['up'])
/** exported only by the embedded in-memory engine (it keeps check answers); the panel is empty elsewhere */
const EMBEDDED_ONLY = new Set(process.env.TRELLIS_TEST_ENGINE === 'remote' ? ['trellis_check_answers_kept_total'] : [])
const SUFFIXES = /_(bucket|sum|count)$/

interface Query {
  where: string
  expr: string
}
const queries: Query[] = [
  ...(dashboard.panels as { title: string; targets?: { expr: string }[] }[]).flatMap((p) =>
    (p.targets ?? []).map((q) => ({ where: `panel "${p.title}"`, expr: q.expr })),
  ),
  ...(dashboard.templating.list as { name: string; query?: { query?: string } }[]).flatMap((v) =>
    v.query?.query ? [{ where: `variable ${v.name}`, expr: v.query.query }] : [],
  ),
  ...(rule.spec.groups as { rules: { alert: string; expr: string }[] }[]).flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
]

/** metric names a query reads: identifiers before a selector, a range or a closing parenthesis */
function metricsOf(expr: string): string[] {
  const noStrings = expr.replace(/"[^"]*"/g, '""')
  const names = [...noStrings.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b\s*(?=\{|\[|\)|,|$|\s*(?:==|>|<|\/|\*))/g)].map((m) => m[1]!)
  const notMetrics = new Set([
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'le',
    'job',
    'instance',
    'route',
    'method',
    'kind',
    'check',
    'code',
    'result',
    'source',
    'outcome',
    'status',
    'permissionship',
  ])
  return [...new Set(names.filter((n) => !notMetrics.has(n) && !/^\$/.test(n) && /_|^up$/.test(n)))]
}

t.test('every dashboard panel and alert names metrics the gateway exports', async (t) => {
  if (!requirePart(t, 'redis (TEST_REDIS_URL)', Boolean(redisUrl))) return
  const app = await buildTestApp(t, { overrides: { redisUrl, events: { ...uniqueEvents('monitoring'), streamEnabled: true } } })
  const scrape = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(scrape.statusCode, 200)
  const exported = new Set([...scrape.body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!))
  t.ok(exported.has('process_cpu_seconds_total'), 'default process metrics under their standard names')
  t.notOk(
    [...exported].some((n) => n.startsWith('trellis_process_') || n.startsWith('trellis_nodejs_')),
    'no trellis_ prefix on them',
  )

  t.ok(queries.length >= 20, `${queries.length} queries`)
  for (const q of queries) {
    const metrics = metricsOf(q.expr)
    t.ok(metrics.length > 0, `${q.where} reads a metric: ${q.expr}`)
    const unknown = metrics.filter((m) => !PROMETHEUS_OWN.has(m) && !EMBEDDED_ONLY.has(m) && !exported.has(m) && !exported.has(m.replace(SUFFIXES, '')))
    t.same(unknown, [], `${q.where}: ${metrics.join(', ')}`)
  }
  const covered = new Set(queries.flatMap((q) => metricsOf(q.expr)).map((m) => m.replace(SUFFIXES, '')))
  for (const needed of [
    'trellis_http_request_duration_seconds',
    'trellis_checks_total',
    'trellis_engine_errors_total',
    'trellis_engine_call_duration_seconds',
    'trellis_stream_lag',
    'trellis_stream_dead_lettered_total',
    'trellis_changes_feeds_open',
    'trellis_ready',
  ]) {
    t.ok(covered.has(needed), `${needed} is on the dashboard or in an alert`)
  }
})

t.test('the metric-name reader finds what a query reads (and a misspelt one would fail above)', async (t) => {
  t.same(metricsOf('histogram_quantile(0.99, sum by (le, route) (rate(trellis_http_request_duration_seconds_bucket{job=~"$job"}[5m])))'), [
    'trellis_http_request_duration_seconds_bucket',
  ])
  t.same(metricsOf('up{job="trellis-gateway"} == 0'), ['up'])
  t.same(metricsOf('max(trellis_stream_lag) > 1000'), ['trellis_stream_lag'])
  t.same(metricsOf('sum(rate(a_total[5m])) / clamp_min(sum(rate(b_total[5m])), 1e-9)'), ['a_total', 'b_total'])
})

t.test('the ServiceMonitor scrapes the gateway Service on its http port', async (t) => {
  t.equal(monitor.kind, 'ServiceMonitor')
  t.same(monitor.spec.selector.matchLabels, { 'app.kubernetes.io/name': service.metadata.labels['app.kubernetes.io/name'] })
  t.ok(service.spec.ports.some((p: { name: string }) => p.name === monitor.spec.endpoints[0].port))
  t.equal(monitor.spec.endpoints[0].path, '/metrics')
  for (const g of rule.spec.groups) for (const r of g.rules) t.ok(r.labels?.severity && r.annotations?.summary, `alert ${r.alert}: severity and summary`)
})
