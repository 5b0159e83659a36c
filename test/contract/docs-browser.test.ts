/**
 * The pages a person opens on the gateway's origin (/docs, Swagger UI, and the explorer) in a
 * real browser (Debian's chromium driven by playwright-core): each sends a Content-Security-
 * Policy with `frame-ancestors 'none'` and `X-Frame-Options: DENY`, works under it with no
 * violation reported, and a page on another origin cannot frame it.
 */
import t, { type Test } from 'tap'
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import { buildTestApp, requirePart } from '../helpers/app.js'

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
const PAGES = ['/docs', '/docs/', '/docs/static/index.html', '/docs/static/oauth2-redirect.html', '/explorer', '/explorer/assets/main.js']

t.test('every page and file of /docs and the explorer sends frame protection and a CSP', async (t) => {
  const app = await buildTestApp(t)
  for (const url of PAGES) {
    const res = await app.inject({ url })
    const csp = String(res.headers['content-security-policy'] ?? '')
    t.match(csp, /frame-ancestors 'none'/, `${url}: CSP frame-ancestors 'none'`)
    t.match(csp, /script-src 'self'(;|$)/, `${url}: scripts from this origin only, nothing inline`)
    t.equal(res.headers['x-frame-options'], 'DENY', `${url}: X-Frame-Options`)
  }
})

/** what the page reports: console errors and CSP violations, as they happen */
async function watch(page: Page) {
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`error: ${e.message}`))
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`)),
  )
  return problems
}

if (requirePart(t, `chromium at ${CHROMIUM}`, existsSync(CHROMIUM))) {
  let browser: Browser
  t.before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--disable-gpu', '--disable-dev-shm-usage'] })
  })
  t.teardown(() => browser?.close())
  const newPage = async (t: Test) => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
    t.teardown(() => context.close())
    return context.newPage()
  }

  t.test('Swagger UI at /docs renders and answers "Try it out" under its CSP, with no violation', async (t) => {
    const app = await buildTestApp(t)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const page = await newPage(t)
    const problems = await watch(page)
    const res = await page.goto(`${base}/docs`)
    t.match(res?.headers()['content-security-policy'], /frame-ancestors 'none'/)
    await page.waitForSelector('.opblock-summary-path[data-path="/v1/check"]', { timeout: 30_000 })
    t.ok(await page.locator('.opblock-summary-path[data-path="/v1/expand"]').count(), 'the operations are listed')
    t.match(await page.locator('.info .title').textContent(), /Trellis authorization gateway/)

    // the UI's own call, through connect-src 'self'
    const health = page.locator('#operations-operations-healthz, .opblock:has([data-path="/healthz"])').first()
    await health.locator('.opblock-summary').click()
    await health.locator('button.try-out__btn').click()
    await health.locator('button.execute').click()
    const status = health.locator('.live-responses-table tbody .response-col_status').first()
    await status.waitFor({ timeout: 15_000 })
    t.match(await status.textContent(), /^\s*200/, 'Try it out reaches the gateway')
    t.same(problems, [], 'no CSP violation and no error reported')
  })

  t.test('a page on another origin cannot frame /docs or the explorer', async (t) => {
    const app = await buildTestApp(t)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    // the attacker's site: another port is another origin
    const evil = createServer((req, res) => {
      const target = new URL(req.url ?? '/', 'http://x').searchParams.get('target') ?? '/docs'
      res.setHeader('content-type', 'text/html; charset=utf-8')
      res.end(`<!doctype html><title>evil</title><iframe id="victim" src="${base}${target}" width="800" height="600"></iframe>`)
    })
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => evil.close(() => resolve())))
    const evilBase = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`

    for (const target of ['/docs', '/explorer']) {
      const page = await newPage(t)
      const messages: string[] = []
      page.on('console', (m) => messages.push(m.text()))
      const framed = page.waitForResponse((r) => r.url() === `${base}${target}`)
      await page.goto(`${evilBase}/?target=${encodeURIComponent(target)}`)
      t.equal((await framed).status(), 200, `${target}: the frame asked for it`)
      await page.waitForTimeout(500)
      const frame = page.frames().find((f) => f !== page.mainFrame())
      const content = frame ? await frame.evaluate(() => document.body?.innerHTML ?? '').catch(() => '') : ''
      t.notMatch(content, /swagger-ui|Access explorer/, `${target}: nothing of it rendered inside the frame`)
      t.ok(frame === undefined || !frame.url().startsWith(base), `${target}: the frame holds no document of the gateway's origin (${frame?.url()})`)
      t.ok(
        messages.some((m) => /frame-ancestors|X-Frame-Options/i.test(m)),
        `${target}: the browser says why it refused`,
      )
    }
  })
}
