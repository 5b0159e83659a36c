/**
 * The explorer's page and files as a door: open without a key (they hold no data), served with
 * a strict content security policy, a fixed set of files and nothing else, while the API calls
 * the page makes stay behind their scopes.
 */
import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'

const KEY = 'explorer-audit-0123456789abcdef'
const keysApp = (t: Parameters<typeof buildTestApp>[0]) =>
  buildTestApp(t, { overrides: { apiKeys: [`auditor:${KEY}:audit`], rateLimit: { windowSeconds: 60, authFailures: 0, perKey: 0 } } })

t.test('with API_KEYS the page and its files are open, and the page asks for a key', async (t) => {
  const app = await keysApp(t)
  const page = await app.inject({ method: 'GET', url: '/explorer?resource=client:c1&permission=view' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, /data-key-required="true"/)
  t.match(page.headers['content-security-policy'], /script-src 'self'/)
  t.notMatch(page.headers['content-security-policy'], /unsafe-inline/)
  t.equal(page.headers['x-content-type-options'], 'nosniff')
  t.equal((await app.inject({ method: 'HEAD', url: '/explorer' })).statusCode, 200)
  for (const [name, type] of [
    ['main.js', /^text\/javascript/],
    ['chains.js', /^text\/javascript/],
    ['style.css', /^text\/css/],
  ] as const) {
    const res = await app.inject({ method: 'GET', url: `/explorer/assets/${name}` })
    t.equal(res.statusCode, 200, name)
    t.match(res.headers['content-type'], type, `${name} content type`)
  }
})

t.test('only the explorer files are served; other names are 404 and reach no disk', async (t) => {
  const app = await keysApp(t)
  for (const name of ['nope.js', 'index.html', '..%2F..%2Fpackage.json', '%2e%2e%2fapp.ts', 'main.js%00', 'MAIN.JS']) {
    const res = await app.inject({ method: 'GET', url: `/explorer/assets/${name}` })
    t.equal(res.statusCode, 404, `${name}: 404`)
    t.equal(res.json().code, 'GW_NOT_FOUND')
  }
  for (const url of ['/explorer/x', '/explorer/assets', '/explorerx']) {
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 401, `${url}: not an explorer route, so 401 without a key`)
  }
})

t.test('the calls the page makes keep their scopes', async (t) => {
  const app = await keysApp(t)
  const auth = { authorization: `Bearer ${KEY}` }
  const report = await app.inject({ method: 'GET', url: '/v1/access-report?resource=client:c1&permission=view', headers: auth })
  t.equal(report.statusCode, 200, 'audit key reads the access report')
  t.equal((await app.inject({ method: 'GET', url: '/v1/access-report?resource=client:c1&permission=view' })).statusCode, 401, 'no key: 401')
  const why = await app.inject({
    method: 'POST',
    url: '/v1/explain',
    headers: auth,
    payload: { resource: 'client:c1', permission: 'view', subject: 'user:rob' },
  })
  // explain shows the relationships behind an answer, so it needs audit, which this key holds
  t.equal(why.statusCode, 200, 'the audit key explains')
  t.match(why.json(), { allowed: false })
})

t.test('without API_KEYS the page does not ask for a key', async (t) => {
  const app = await buildTestApp(t)
  const page = await app.inject({ method: 'GET', url: '/explorer' })
  t.equal(page.statusCode, 200)
  t.match(page.body, /data-key-required="false"/)
})
