import t from 'tap'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { buildTestApp } from '../helpers/app.js'

t.test('the committed openapi.yaml is what the service serves', async (t) => {
  const app = await buildTestApp(t)
  const served = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  const committed = parse(await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8'))
  t.same(committed, served, 'openapi.yaml has drifted from the routes: run `npm run openapi`')
})

t.test('every contract endpoint of api.md is documented', async (t) => {
  const app = await buildTestApp(t)
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  const expected: [string, string][] = [
    ['post', '/v1/check'],
    ['post', '/v1/check/bulk'],
    ['post', '/v1/lookup/resources'],
    ['post', '/v1/lookup/subjects'],
    ['post', '/v1/expand'],
    ['get', '/v1/access-report'],
    ['post', '/v1/explain'],
    ['post', '/v1/events'],
    ['get', '/v1/relationships'],
    ['post', '/v1/relationships'],
    ['delete', '/v1/relationships'],
    ['get', '/v1/schema'],
    ['get', '/healthz'],
    ['get', '/readyz'],
  ]
  for (const [method, path] of expected) t.ok(doc.paths?.[path]?.[method], `${method.toUpperCase()} ${path}`)
})

t.test('/docs serves the interactive documentation', async (t) => {
  const app = await buildTestApp(t)
  const page = await app.inject({ method: 'GET', url: '/docs' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /swagger-ui/i)
  const script = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
  t.equal(script.statusCode, 200, 'the UI assets are served')
  const init = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(init.statusCode, 200)
  t.equal(init.json().info.title, 'Trellis authorization gateway')
})
