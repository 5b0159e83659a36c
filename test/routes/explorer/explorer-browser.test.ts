/**
 * The access explorer in a real browser (Debian's chromium driven by playwright-core, no
 * browser download): a small business seeded by events, each deep link opened, and what a
 * person sees asserted: names, paths drawn as chains, the CSV downloads, the audit trail, the key
 * prompt.
 * Screenshots go to docs/explorer/*.png, which docs/explorer.md shows.
 */
import t, { type Test } from 'tap'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import { buildTestApp, requirePart, type TestApp } from '../../helpers/app.js'
import { ev } from '../../helpers/events.js'

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
const SHOTS = new URL('../../../docs/explorer/', import.meta.url)
const FULL = 'explorer-full-0123456789abcdef'
const AUDITOR = 'explorer-auditor-0123456789abcdef'
const AUDIT_ONLY = 'explorer-auditonly-0123456789abcdef'
const CHECK_ONLY = 'explorer-checkonly-0123456789abcdef'

/** acme: an owner, an admin, coaches, a person granted view_all_clients, clients, a program with a group. */
const BUSINESS = [
  ev('organization.created', { organizationId: 'acme', ownerId: 'olivia' }),
  ev('organization.member_added', { organizationId: 'acme', userId: 'adam', role: 'admin' }),
  ev('organization.member_added', { organizationId: 'acme', userId: 'rob', role: 'coach' }),
  ev('organization.member_added', { organizationId: 'acme', userId: 'cara', role: 'coach' }),
  ev('organization.member_added', { organizationId: 'acme', userId: 'vic', role: 'member' }),
  ev('organization.privileges_set', { organizationId: 'acme', userId: 'vic', privileges: ['view_all_clients'] }),
  ev('client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'cara', userId: 'cassandra' }),
  ev('client.created', { clientId: 'bea', organizationId: 'acme', primaryCoachId: 'rob' }),
  ev('client.created', { clientId: 'bob', organizationId: 'acme', primaryCoachId: 'rob' }),
  ev('client.created', { clientId: 'cy', organizationId: 'acme', primaryCoachId: 'rob' }),
  ev('program.created', { programId: 'leadership', organizationId: 'acme' }),
  ev('program.role_assigned', { programId: 'leadership', userId: 'fay', role: 'facilitator' }),
  ev('group.created', { groupId: 'north', organizationId: 'acme' }),
  ev('group.coach_added', { groupId: 'north', userId: 'cara' }),
  ev('program.group_assigned', { programId: 'leadership', groupId: 'north' }),
]

async function serve(t: Test, keys: boolean): Promise<{ app: TestApp; base: string }> {
  const overrides = keys
    ? {
        apiKeys: [`full:${FULL}`, `auditor:${AUDITOR}:audit+check`, `auditonly:${AUDIT_ONLY}:audit`, `checker:${CHECK_ONLY}:check`],
        rateLimit: { windowSeconds: 60, authFailures: 0, perKey: 0 },
      }
    : {}
  const app = await buildTestApp(t, { overrides })
  const headers = keys ? { authorization: `Bearer ${FULL}` } : {}
  const res = await app.inject({ method: 'POST', url: '/v1/events', headers, payload: { events: BUSINESS } })
  t.equal(res.statusCode, 200, `seeded ${BUSINESS.length} events ${res.statusCode === 200 ? '' : res.body}`)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}

const shot = (page: Page, name: string) => page.screenshot({ path: new URL(`${name}.png`, SHOTS).pathname, fullPage: true })

/** What a person reads: the chains under one heading of the who-report, as text. */
const chainsUnder = (page: Page, how: string) =>
  page.locator(`#who section[data-how="${how}"] li`).evaluateAll((lis) => lis.map((li) => li.textContent!.trim()))

async function open(page: Page, base: string, query: string) {
  await page.goto(`${base}/explorer?${query}`)
  await page.waitForFunction(() => document.getElementById('status')!.textContent !== 'Loading…')
}

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

  t.test('who holds view on a client: grouped by how, drawn as chains, exported as CSV', async (t) => {
    const { app, base } = await serve(t, false)
    const page = await newPage(t)
    await open(page, base, 'resource=client:cassandra&permission=view')
    t.equal(await page.locator('#who-heading span').textContent(), 'Who holds view on client:cassandra')
    t.same(await page.inputValue('#resource'), 'client:cassandra', 'the form shows the question')
    const direct = await chainsUnder(page, 'direct')
    t.ok(direct.includes('user:caraclient:cassandra -> primary -> user:cara'), `cara directly as primary: ${direct}`)
    t.ok(direct.includes('user:cassandraclient:cassandra -> account -> user:cassandra'), 'cassandra by her own login')
    const org = await chainsUnder(page, 'organization')
    // the client's link to its organization is drawn when the API's path carries it
    const viaOrg = (who: string, relation: string) =>
      org.some((x) => new RegExp(`^${who}client:cassandra -> (organization -> )?organization:acme -> ${relation} -> ${who}$`).test(x))
    t.ok(viaOrg('user:vic', 'view_all_clients'), `vic through the organization: ${org}`)
    t.ok(viaOrg('user:olivia', 'owner'), 'the owner')
    t.ok(viaOrg('user:adam', 'admin'), 'the admin')
    t.equal(org.length, 3, 'paths that read the same are drawn once (the admin holds both organization privileges)')
    t.notOk(await page.locator('#who').getByText('user:rob', { exact: true }).count(), 'rob, a coach of other clients, is not listed')

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')])
    t.equal(download.suggestedFilename(), 'access-client_cassandra-view.csv')
    const csv = readFileSync(await download.path(), 'utf8')
    const api = await app.inject({ method: 'GET', url: '/v1/access-report?resource=client:cassandra&permission=view&format=csv' })
    t.equal(csv, api.body, 'the download is the API report')
    t.match(csv, /^subject,permissionship,path\n/)
    t.match(csv, /\nuser:vic,has_permission,[^\n]*organization:acme#view_all_clients@user:vic\n/)

    const rels = await page.locator('#relationships li').evaluateAll((lis) => lis.map((li) => li.textContent))
    t.ok(rels.includes('client:cassandra#organization@organization:acme'), `relationships listed: ${rels}`)
    await shot(page, 'who')
    await page.locator('#relationships a', { hasText: 'organization:acme' }).first().click()
    await page.waitForURL(/resource=organization%3Aacme|resource=organization:acme/)
    await page.waitForSelector('#rel-heading')
    t.equal(await page.locator('#rel-heading').textContent(), 'Relationships of organization:acme', 'a link follows to the organization')
    const orgRels = await page.locator('#relationships li').evaluateAll((lis) => lis.map((li) => li.textContent))
    t.ok(orgRels.includes('organization:acme#view_all_clients@user:vic'), 'which shows the privilege')
  })

  t.test('why, and why not', async (t) => {
    const { base } = await serve(t, false)
    const page = await newPage(t)
    await open(page, base, 'resource=client:cassandra&permission=coach&subject=user:rob')
    t.equal(await page.locator('#why-heading').textContent(), 'Can user:rob coach client:cassandra?')
    t.equal(await page.locator('#verdict').textContent(), 'No')
    const tried = await page.locator('#tried li').allTextContents()
    t.ok(
      tried.some((x) => x.startsWith('client:cassandra#primary')),
      `what was tried: ${tried}`,
    )
    t.equal(await page.locator('#holds').textContent(), 'user:rob holds nothing directly on client:cassandra.', 'what rob does hold there')
    t.equal(
      await page.locator('#granted-by').textContent(),
      'coach needs primary + coaching + organization->can_coach_all_clients.',
      'and what would grant coach',
    )
    await shot(page, 'why-not')
    await open(page, base, 'resource=client:cassandra&permission=coach&subject=user:cara')
    t.equal(await page.locator('#verdict').textContent(), 'Yes')
    t.same(await page.locator('#why ul.paths li').allTextContents(), ['client:cassandra -> primary -> user:cara'])
    await open(page, base, 'resource=program:leadership&permission=view_stats')
    const via = await chainsUnder(page, 'programOrGroup')
    t.ok(
      via.some((x) => /^user:caraprogram:leadership -> (assigned_group -> )?group:north -> coach -> user:cara$/.test(x)),
      `through the group: ${via}`,
    )
  })

  t.test('what a subject can reach, page by page', async (t) => {
    const { base } = await serve(t, false)
    const page = await newPage(t)
    await open(page, base, 'subject=user:rob&resourceType=client&permission=coach&limit=2')
    t.equal(await page.inputValue('#reach-subject'), 'user:rob')
    const seen = await page.locator('#reach li a').allTextContents()
    t.equal(seen.length, 2, 'a page of two')
    await shot(page, 'reach')
    await page.click('#next-page')
    await page.waitForSelector('#reach .pager >> text=Page 2')
    seen.push(...(await page.locator('#reach li a').allTextContents()))
    t.same(seen.sort(), ['client:bea', 'client:bob', 'client:cy'], 'every client of rob once, none of cara')
    const last = (await page.locator('#reach li a').first().textContent())!
    await page.locator('#reach li a').first().click()
    await page.waitForSelector('#verdict')
    t.equal(await page.locator('#why-heading').textContent(), `Can user:rob coach ${last}?`, 'a result links to why')
    t.equal(await page.locator('#verdict').textContent(), 'Yes')
  })

  t.test('keyboard: every control reached by Tab with a visible focus, a question asked with Enter', async (t) => {
    const { base } = await serve(t, false)
    const page = await newPage(t)
    await open(page, base, '')
    await page.keyboard.press('Tab')
    t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to the answer')
    await page.keyboard.press('Tab')
    t.equal(await page.evaluate(() => document.activeElement?.id), 'resource')
    t.equal(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle), 'solid', 'focus is visible')
    await page.keyboard.type('client:cassandra')
    await page.keyboard.press('Tab')
    await page.keyboard.type('view')
    await page.keyboard.press('Enter')
    await page.waitForSelector('#who')
    t.match(page.url(), /resource=client%3Acassandra&permission=view/)
    // each part of the page loads on its own: measure once the relationships and the trail are drawn
    await page.waitForSelector('#relationships li')
    await page.waitForSelector('#audit td code')
    await page.waitForSelector('#audit .op')
    // WCAG contrast of what a person reads, measured on the rendered page (AA asks 4.5:1)
    const ratios = await page.evaluate(() => {
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number)
      const lum = (c: string) => {
        const [r, g, b] = rgb(c)
          .map((v) => v / 255)
          .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!
      }
      const background = (e: Element | null): string => {
        for (; e; e = e.parentElement) {
          const c = getComputedStyle(e).backgroundColor
          if (rgb(c)[3] !== 0 && c !== 'transparent') return c
        }
        return 'rgb(255, 255, 255)'
      }
      const sel = [
        'h1',
        'header p',
        'label',
        '.hint',
        'input',
        'button',
        '#who a',
        '.chain .sep',
        '.chain .relation',
        '.who',
        '#relationships li',
        '#audit caption',
        '#audit th',
        '#audit td code',
        '#audit .op',
      ]
      return sel.map((q) => {
        const e = document.querySelector(q)!
        const [a, b] = [lum(getComputedStyle(e).color), lum(background(e))]
        return [q, Math.round(((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)) * 10) / 10] as const
      })
    })
    for (const [q, ratio] of ratios) t.ok(ratio >= 4.5, `${q}: contrast ${ratio}:1`)
    const labels = await page.locator('input').evaluateAll((inputs) => inputs.filter((i) => !(i as HTMLInputElement).labels?.length).map((i) => i.id))
    t.same(labels, [], 'every input has a label')
  })

  t.test('changes to an object: the audit trail newest first, who did it, and its CSV', async (t) => {
    const { app, base } = await serve(t, true)
    const auth = { authorization: `Bearer ${FULL}` }
    const pairing = ev('pairing.set', { clientId: 'cassandra', coachId: 'rob', level: 'coaching' }, 'user:olivia')
    const res = await app.inject({ method: 'POST', url: '/v1/events', headers: auth, payload: pairing })
    t.equal(res.statusCode, 200, `olivia pairs rob with cassandra ${res.statusCode === 200 ? '' : res.body}`)
    const trail = await app.inject({ method: 'GET', url: '/v1/audit?object=client:cassandra', headers: auth })
    const records = trail.json().records as { event?: { id: string; type: string } }[]
    t.same(
      records.map((r) => r.event?.type),
      ['client.created', 'pairing.set'],
      'the API: two writes touched cassandra, oldest first',
    )

    const page = await newPage(t)
    await open(page, base, 'resource=client:cassandra&permission=view')
    await page.fill('#key', FULL)
    await page.press('#key', 'Enter')
    await page.waitForSelector('#audit table')
    t.equal(await page.locator('#audit-heading span').textContent(), 'Changes to client:cassandra')
    t.match(await page.locator('#audit caption').textContent(), /^Writes that touched client:cassandra, newest first/)
    t.same(await page.locator('#audit thead th').allTextContents(), ['When', 'Who', 'Relationships written or deleted'])
    t.same(await page.locator('#audit thead th').evaluateAll((ths) => ths.map((th) => th.getAttribute('scope'))), ['col', 'col', 'col'])
    const rows = page.locator('#audit tbody tr')
    t.same(await rows.locator('.event-type').allTextContents(), ['pairing.set', 'client.created'], 'a person reads them newest first')
    const newest = (await rows.nth(0).textContent())!
    t.match(newest, /key full/, 'the key name')
    t.match(newest, /actor user:olivia/, 'the actor')
    t.match(newest, records[1]!.event!.id, 'the event id')
    t.match(newest, /client:cassandra#\w+@user:rob/, 'the relationship it wrote')
    const created = await rows.nth(1).locator('li[data-operation] code').allTextContents()
    t.ok(created.includes('client:cassandra#organization@organization:acme'), `client.created wrote the organization link: ${created}`)
    t.ok(created.includes('client:cassandra#primary@user:cara'), 'and the primary coach')
    t.notOk(
      created.some((x) => x.startsWith('internal_')),
      "the gateway's own guard writes are not listed as access",
    )
    t.match(await rows.nth(1).textContent(), /and \d+ internal guard writes? \(in the CSV\)/, 'but counted')
    t.match(await rows.nth(1).locator('time').getAttribute('datetime'), /^\d{4}-\d\d-\d\dT/, 'the time, machine-readable too')
    t.ok(await page.locator('#who').isVisible(), 'beside the access report')
    await shot(page, 'audit')

    // by keyboard: the download button is reached by focus and pressed with Enter
    await page.focus('#audit-csv')
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')])
    t.equal(download.suggestedFilename(), 'audit-client_cassandra.csv')
    const csv = readFileSync(await download.path(), 'utf8')
    const apiCsv = await app.inject({ method: 'GET', url: '/v1/audit?object=client:cassandra&format=csv&limit=1000', headers: auth })
    t.equal(csv, apiCsv.body, 'the download is the API CSV')
    t.match(csv, /^id,at,key,source,event_id,event_type,actor,operation,relationship,zedtoken\n/)
    t.match(csv, /,full,rest,evt-[^,]+,pairing\.set,user:olivia,/)

    // a key without the audit scope: the trail, the who report and why (explain) say so
    await page.click('#forget-key')
    await open(page, base, 'resource=client:cassandra&permission=coach&subject=user:rob')
    await page.fill('#key', CHECK_ONLY)
    await page.press('#key', 'Enter')
    await page.waitForFunction(() => /scope audit/.test(document.getElementById('status')!.textContent!))
    t.match(await page.locator('#status').textContent(), /lacks the scope audit/)
    t.equal(await page.locator('#audit').count(), 0, 'no trail without the audit scope')
    t.equal(await page.locator('#verdict').count(), 0, 'no why either: explain shows paths, so it needs audit')
    // while what it can reach (a lookup) answers with `check`
    await open(page, base, 'subject=user:rob&resourceType=client&permission=coach')
    await page.waitForSelector('#reach')
    t.match(await page.locator('#reach').textContent(), /cassandra/, 'rob now coaches cassandra')
  })

  t.test('the audit trail page by page: the API cursor followed, then older rows a screen at a time, by keyboard', async (t) => {
    const { app, base } = await serve(t, false)
    // 55 more writes to cassandra: with 10 a page the page reads 5 pages (50) and offers to read on
    const levels = Array.from({ length: 55 }, (_, i) => ev('pairing.set', { clientId: 'cassandra', coachId: 'rob', level: i % 2 ? 'view_only' : 'coaching' }))
    const res = await app.inject({ method: 'POST', url: '/v1/events', payload: { events: levels } })
    t.equal(res.statusCode, 200, `55 pairing events ${res.statusCode === 200 ? '' : res.body}`)
    const all = (await app.inject({ method: 'GET', url: '/v1/audit?object=client:cassandra&limit=1000' })).json().records as { id: string }[]
    t.equal(all.length, 56, 'the API: client.created and 55 pairings')
    const newestFirst = all.map((r) => r.id).reverse()
    const page = await newPage(t)
    await open(page, base, 'resource=client:cassandra&limit=10')
    const ids = () => page.locator('#audit tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')))
    t.same(await ids(), newestFirst.slice(0, 50), 'the newest 50 of all 56, newest first: the top row is the newest write of the whole trail')
    t.equal(await page.locator('#audit-older').count(), 0, 'all 50 read are shown')
    await page.focus('#audit-more')
    await page.keyboard.press('Enter')
    await page.waitForSelector('#audit-older')
    t.equal(await page.locator('#audit-more').count(), 0, 'the trail is read back to its start')
    t.same(await ids(), newestFirst.slice(0, 50), 'the rows shown stay the newest 50')
    t.equal(await page.locator('#audit-older').textContent(), 'Show 6 older changes')
    t.equal(await page.evaluate(() => document.activeElement?.id), 'audit-heading', 'focus stays in the section')
    await page.keyboard.press('Tab')
    await page.keyboard.press('Tab')
    t.equal(await page.evaluate(() => document.activeElement?.id), 'audit-older', 'the next controls are reached by Tab')
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => document.querySelectorAll('#audit tbody tr').length === 56)
    t.same(await ids(), newestFirst, 'every record once, newest first')
    t.match(await page.locator('#audit caption').textContent(), /\(56 of 56 shown\)/)
  })

  t.test('with API_KEYS the page asks for a key, keeps it for the session, and shows refusals', async (t) => {
    const { base } = await serve(t, true)
    const page = await newPage(t)
    await open(page, base, 'resource=client:cassandra&permission=coach&subject=user:rob')
    t.ok(await page.locator('#key-panel').isVisible(), 'asks for a key')
    t.equal(await page.locator('#status').textContent(), 'Enter an API key to see the answer.')
    t.equal(await page.locator('#results').textContent(), '', 'nothing shown without a key')
    await shot(page, 'key')
    await page.fill('#key', 'wrong-key-0123456789abcdef')
    await page.press('#key', 'Enter')
    await page.waitForSelector('#status.error')
    t.match(await page.locator('#status').textContent(), /does not accept this API key/, 'a wrong key is reported as a wrong key')
    t.notMatch(await page.locator('#status').textContent(), /needs an API key/, 'not as if no key were given')
    await page.fill('#key', AUDIT_ONLY)
    await page.press('#key', 'Enter')
    await page.waitForSelector('#relationships')
    t.equal(await page.locator('#verdict').textContent(), 'No', 'why (explain) needs only audit')
    t.ok(await page.locator('#who').isVisible(), 'as the who report does')
    await open(page, base, 'subject=user:rob&resourceType=client&permission=coach')
    await page.waitForFunction(() => /scope check/.test(document.getElementById('status')!.textContent!))
    t.match(await page.locator('#status').textContent(), /lacks the scope check/, 'what a subject can reach (a lookup) needs check')
    t.equal(await page.locator('#reach').count(), 0, 'and is not shown')
    await open(page, base, 'resource=client:cassandra&permission=coach&subject=user:rob')
    await page.fill('#key', AUDITOR)
    await page.press('#key', 'Enter')
    await page.waitForSelector('#relationships')
    t.equal(await page.locator('#verdict').textContent(), 'No')
    t.ok(await page.locator('#who section[data-how="organization"]').count(), 'the who report with the same key')
    t.same(await page.evaluate(() => [sessionStorage.length, localStorage.length, document.cookie]), [1, 0, ''], 'session storage only')
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')])
    t.match(readFileSync(await download.path(), 'utf8'), /\nuser:cara,has_permission,/, 'the CSV carries the key too')
    const fresh = await newPage(t)
    await open(fresh, base, 'resource=client:cassandra&permission=view')
    t.equal(await fresh.locator('#results').textContent(), '', 'a new session asks again')
  })
}
