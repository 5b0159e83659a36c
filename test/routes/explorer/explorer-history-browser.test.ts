/**
 * The explorer's history views in a real browser (Debian's chromium through playwright-core):
 * a business seeded by events, times T1 < T2 < T3 noted around a role change (vic made admin),
 * a pairing (cara) and a deactivation (adam), and deep links opened:
 * - `&asOf=T1` on who holds, why and the relationships: what a person sees is what held then;
 * - `&since=T1&until=T3`: who gained and who lost view, each with the event behind it, and the CSV;
 * - who holds at size: 130 holders paged 50 at a time, filtered by subject and by path kind.
 * Screenshots go to docs/explorer/ (as-of.png, changed.png, who-paged.png), shown by docs/explorer.md.
 */
import t, { type Test } from 'tap'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { chromium, type Browser, type Page } from 'playwright-core'
import { buildTestApp, requirePart, type TestApp } from '../../helpers/app.js'
import { ev } from '../../helpers/events.js'

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
const SHOTS = new URL('../../../docs/explorer/', import.meta.url)

const send = async (t: Test, app: TestApp, events: object[]) => {
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: { events } })
  t.equal(res.statusCode, 200, `applied ${events.length} event(s) ${res.statusCode === 200 ? '' : res.body}`)
}

/** a moment strictly between two writes */
async function moment(): Promise<string> {
  await sleep(5)
  const at = new Date().toISOString()
  await sleep(5)
  return at
}

async function open(page: Page, base: string, query: string) {
  await page.goto(`${base}/explorer?${query}`)
  await page.waitForFunction(() => document.getElementById('status')!.textContent !== 'Loading…')
}

const shot = (page: Page, name: string) => page.screenshot({ path: new URL(`${name}.png`, SHOTS).pathname, fullPage: true })

if (requirePart(t, `chromium at ${CHROMIUM}`, existsSync(CHROMIUM))) {
  let browser: Browser
  t.before(async () => {
    mkdirSync(SHOTS, { recursive: true })
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--disable-gpu', '--disable-dev-shm-usage'] })
  })
  t.teardown(() => browser?.close())
  const newPage = async (t: Test) => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, acceptDownloads: true })
    t.teardown(() => context.close())
    return context.newPage()
  }
  const serve = async (t: Test) => {
    const app = await buildTestApp(t)
    await app.listen({ host: '127.0.0.1', port: 0 })
    return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
  }

  t.test('as of a past moment, and what changed between two: from deep links', async (t) => {
    const { app, base } = await serve(t)
    await send(t, app, [
      ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' }),
      ev('organization.member_added', { organizationId: 'acme', userId: 'adam', role: 'admin' }),
      ev('organization.member_added', { organizationId: 'acme', userId: 'rob', role: 'coach' }),
      ev('organization.member_added', { organizationId: 'acme', userId: 'cara', role: 'coach' }),
      ev('organization.member_added', { organizationId: 'acme', userId: 'vic', role: 'member' }),
      ev('client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'rob' }),
    ])
    const T1 = await moment()
    const promoted = ev('organization.member_role_changed', { organizationId: 'acme', userId: 'vic', role: 'admin' }, 'user:olivia')
    const paired = ev('pairing.set', { clientId: 'cassandra', coachId: 'cara', level: 'coaching' }, 'user:olivia')
    await send(t, app, [promoted])
    await send(t, app, [paired])
    const T2 = await moment()
    const deactivated = ev('user.deactivated', { organizationId: 'acme', userId: 'adam' }, 'user:olivia')
    await send(t, app, [deactivated])
    const T3 = await moment()

    const page = await newPage(t)
    const holders = () => page.locator('#who .who').allTextContents()
    await open(page, base, `resource=client:cassandra&permission=view&subject=user:cara&asOf=${T1}`)
    t.equal(await page.inputValue('#as-of'), T1, 'the form shows the moment asked about')
    t.equal(
      await page.locator('#as-of-note').textContent(),
      `As of ${T1}: every answer below is as it was then, and the changes listed are those made up to then.`,
    )
    t.equal(await page.locator('#who-heading span').textContent(), `Who held view on client:cassandra as of ${T1}`)
    t.same((await holders()).sort(), ['user:adam', 'user:olivia', 'user:rob'], 'who held view at T1: not cara, not vic')
    t.equal(await page.locator('#why-heading').textContent(), `Could user:cara view client:cassandra as of ${T1}?`)
    t.equal(await page.locator('#verdict').textContent(), 'No', 'cara could not view yet')
    await page.waitForSelector('#relationships')
    t.equal(await page.locator('#rel-heading').textContent(), `Relationships of client:cassandra as of ${T1}`)
    const rels = await page.locator('#relationships li').allTextContents()
    t.notOk(
      rels.some((r) => r.includes('coaching@user:cara')),
      `no pairing yet: ${rels}`,
    )
    t.notOk(await page.locator('#audit tbody .event-type', { hasText: 'pairing.set' }).count(), 'the trail shows only the changes made up to then')
    await shot(page, 'as-of')

    await open(page, base, `resource=client:cassandra&permission=view&asOf=${T3}`)
    t.same((await holders()).sort(), ['user:cara', 'user:olivia', 'user:rob', 'user:vic'], 'as of T3: cara and vic, adam gone')
    await open(page, base, 'resource=client:cassandra&permission=view')
    t.equal(await page.locator('#who-heading span').textContent(), 'Who holds view on client:cassandra', 'without asOf: now')
    t.equal(await page.locator('#as-of-note').count(), 0)

    await open(page, base, `resource=client:cassandra&permission=view&since=${T1}&until=${T3}`)
    t.equal(await page.locator('#changed-heading span').textContent(), 'What changed: view on client:cassandra')
    t.same(
      [await page.inputValue('#changed-resource'), await page.inputValue('#since'), await page.inputValue('#until')],
      ['client:cassandra', T1, T3],
      'the form shows the window',
    )
    t.match(await page.locator('#changed-window').textContent(), /: 2 gained it, 1 lost it\./)
    const rows = async (id: string) => page.locator(`#${id} tbody tr`).evaluateAll((trs) => trs.map((tr) => tr.textContent!))
    const gained = await rows('gained')
    t.equal(gained.length, 2)
    t.match(gained[0], /user:vic/, 'vic first: his role changed before cara was paired')
    t.match(gained[0], /organization\.member_role_changed/, 'the event behind it')
    t.match(gained[0], promoted.id)
    t.match(gained[0], /organization:acme -> admin -> user:vic/, 'held through the organization')
    t.match(gained[0], /actor user:olivia/)
    t.equal(await page.locator('#gained tbody tr').first().locator('.chain').count(), 1, 'paths that read the same are drawn once')
    t.match(gained[1], /user:cara.*pairing\.set/)
    const lost = await rows('lost')
    t.equal(lost.length, 1)
    t.match(lost[0], new RegExp(`user:adam.*user\\.deactivated ${deactivated.id}`))
    const vicAt = (await page.locator('#gained time').first().getAttribute('datetime'))!
    t.equal(
      await page.locator('#gained tbody tr td:nth-child(2) a').first().getAttribute('href'),
      `/explorer?${new URLSearchParams({ resource: 'client:cassandra', permission: 'view', subject: 'user:vic', asOf: vicAt })}`,
      'each person links to why, as of the change',
    )
    await shot(page, 'changed')
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#changed-csv')])
    t.equal(download.suggestedFilename(), 'access-changes-client_cassandra-view.csv')
    const api = await app.inject({ method: 'GET', url: `/v1/access-changes?resource=client:cassandra&permission=view&since=${T1}&until=${T3}&format=csv` })
    t.equal(readFileSync(await download.path(), 'utf8'), api.body, 'the download is the API CSV: gains and losses both')
    t.match(api.body, /user:vic,gained,/)
    t.match(api.body, /user:adam,lost,/)

    // asked by the form, the narrower window [T2, T3]: only adam's loss
    await page.fill('#since', T2)
    await page.press('#since', 'Enter')
    await page.waitForFunction(
      (at) => document.getElementById('changed-window')?.textContent?.includes('0 gained it, 1 lost it') && location.search.includes(encodeURIComponent(at)),
      T2,
    )
    t.equal(await page.locator('#lost tbody tr').count(), 1)
    t.ok(T2 < T3)
  })

  t.test('who holds at size: paged, and filtered by subject and by path kind', async (t) => {
    const { base, app } = await serve(t)
    const coaches = Array.from({ length: 127 }, (_, i) => `c${String(i).padStart(3, '0')}`)
    await send(t, app, [
      ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' }),
      ev('organization.member_added', { organizationId: 'acme', userId: 'adam', role: 'admin' }),
      ...coaches.map((c) => ev('organization.member_added', { organizationId: 'acme', userId: c, role: 'coach' })),
      ev('client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'c000' }),
      ...coaches.slice(1).map((c) => ev('pairing.set', { clientId: 'cassandra', coachId: c, level: 'view_only' })),
    ])
    const page = await newPage(t)
    await open(page, base, 'resource=client:cassandra&permission=view')
    const report = (await app.inject({ method: 'GET', url: '/v1/access-report?resource=client:cassandra&permission=view' })).json()
    t.equal(report.subjects.length, 129, 'the API: 127 coaches, the owner and the admin')
    t.equal(await page.locator('#who ul.holders > li').count(), 50, 'one page of 50 rows, not all of them')
    t.match(await page.locator('#who > p').first().textContent(), /^129 subjects hold it, by \d+ paths/)
    t.match(await page.locator('#who-page').textContent(), /^Page 1 of [3-9]$/)
    const firstPage = await page.locator('#who .who').allTextContents()
    await page.click('#who-next')
    t.match(await page.locator('#who-page').textContent(), /^Page 2 of /)
    const second = await page.locator('#who .who').allTextContents()
    t.notOk(
      second.some((s) => firstPage.includes(s) && s.startsWith('user:c')),
      'the next page shows other people',
    )
    t.equal(await page.evaluate(() => document.activeElement?.id), 'who-next', 'focus stays on the pager')
    const height = await page.locator('#who').evaluate((e) => e.getBoundingClientRect().height)
    t.ok(height < 4000, `who holds stays a readable height: ${height} px for 50 of its rows`)
    await page.locator('#who').screenshot({ path: new URL('who-paged.png', SHOTS).pathname })

    await page.fill('#who-filter', 'c12')
    const filtered = await page.locator('#who .who').allTextContents()
    t.same([...new Set(filtered)].sort(), ['user:c120', 'user:c121', 'user:c122', 'user:c123', 'user:c124', 'user:c125', 'user:c126'], 'filtered by subject')
    t.match(await page.locator('#who-count').textContent(), /^\d+ of \d+ rows match/)
    t.equal(await page.locator('#who-page').count(), 0, 'one page: no pager')
    await page.fill('#who-filter', '')
    await page.selectOption('#who-how', 'organization')
    const org = await page.locator('#who .who').allTextContents()
    t.same([...new Set(org)].sort(), ['user:adam', 'user:olivia'], 'only the paths through the organization: the owner and the admin')
    t.same(await page.locator('#who section.how').evaluateAll((s) => s.map((x) => x.getAttribute('data-how'))), ['organization'])
    await page.selectOption('#who-how', 'direct')
    await page.fill('#who-filter', 'c000')
    t.same(await page.locator('#who li').allTextContents(), ['user:c000client:cassandra -> primary -> user:c000'], 'a person and a path kind together')
  })
}
