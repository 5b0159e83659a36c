/**
 * The access explorer: a page for people (auditors, admins) served by the gateway itself.
 * Static HTML, CSS and JavaScript modules from public/explorer/, loaded by the browser as they
 * are: no build step, so `npm ci && npm start` stays the whole set-up, and `node dist/server.js`
 * finds the same folder (public/ sits beside both src/ and dist/).
 *
 * The page and its files are open routes (see PUBLIC_ROUTES in plugins/app/auth.ts): they hold
 * no data. Every answer the page shows comes from the /v1 API, called by the browser with the
 * key the person typed, so the page can show nothing its key could not already read.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { extname } from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import { GatewayError } from '../../domain/wire/errors.js'

const DIR = new URL('../../../public/explorer/', import.meta.url)

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/**
 * Scripts and styles only from this origin, no inline script, no framing: a relationship or
 * an id containing markup can never run as code, even if a rendering bug let it through.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  // for browsers that predate frame-ancestors
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
}

/** Read once at start: a fixed set of small files, and nothing a request names reaches the disk. */
function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const assets = new Map<string, { body: Buffer; type: string }>()
  for (const name of readdirSync(DIR)) {
    const type = TYPES[extname(name)]
    if (type) assets.set(name, { body: readFileSync(new URL(name, DIR)), type })
  }
  return assets
}

const notFound = (name: string) => new GatewayError('GW_NOT_FOUND', 404, `no explorer file named ${JSON.stringify(name)}`)

const routes: FastifyPluginAsync = async (app) => {
  const assets = loadAssets()
  const index = assets.get('index.html')
  if (!index) throw new Error(`the explorer page is missing: ${new URL('index.html', DIR).pathname}`)
  // the page asks for a key up front when keys are configured (it says no more than a 401 would)
  const page = index.body.toString('utf8').replace('data-key-required="false"', `data-key-required="${app.apiKeys.enabled}"`)

  app.get('/explorer', { schema: { hide: true } }, async (_req, reply) => reply.headers(SECURITY_HEADERS).type(index.type).send(page))

  app.get<{ Params: { name: string } }>('/explorer/assets/:name', { schema: { hide: true } }, async (req, reply) => {
    const asset = req.params.name === 'index.html' ? undefined : assets.get(req.params.name)
    if (!asset) throw notFound(req.params.name)
    return reply.headers(SECURITY_HEADERS).type(asset.type).send(asset.body)
  })
}

export default routes
