/**
 * The explorer's state is its URL, so a report can be shared as a link:
 *   ?resource=client:c1&permission=view            who holds it, and how
 *   ?resource=client:c1&permission=coach&subject=user:rob   and why (not) for one subject
 *   ?subject=user:rob&resourceType=client&permission=coach  what a subject can reach
 *   ?resource=organization:acme                     the relationships of an object
 * Every ?resource= page also shows the changes to that object (the audit trail; &limit= sets
 * its page size).
 */
import * as api from './api.js'
import { AUDIT_PAGE, auditTrail } from './audit.js'
import { el, reachReport, relationshipsReport, whoReport, whyReport } from './views.js'

const $ = (id) => document.getElementById(id)
const PAGE = 25

function say(text, error = false) {
  $('status').textContent = text
  $('status').classList.toggle('error', error)
}

function showKeyPanel() {
  const panel = $('key-panel')
  panel.hidden = !api.keyRequired()
  $('key-state').textContent = api.currentKey() ? 'A key is in use for this session.' : 'No key yet: the answers below need one.'
}

/** Hands the browser a file to save (a link with `download`, which the CSP allows: no script runs). */
function save(csv, name) {
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }))
  const a = el('a', { href: url, download: name })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

async function download(resource, permission) {
  try {
    save(await api.accessReportCsv(resource, permission), `access-${resource.replace(/[^a-zA-Z0-9_-]/g, '_')}-${permission}.csv`)
  } catch (err) {
    say(api.explainError(err), true)
  }
}

/** Lookup pages: the cursor of each page, so "first page" needs no cursor at all. */
async function reach(q, results, cursor, pageNo) {
  const page = await api.lookupResources(q.subject, q.resourceType, q.permission, q.limit, cursor)
  const node = reachReport(q, page, pageNo, (where) => {
    const next = where === 'next' ? reach(q, results, page.cursor, pageNo + 1) : reach(q, results, undefined, 1)
    next.catch((err) => say(api.explainError(err), true))
  })
  const old = $('reach')
  if (old) old.replaceWith(node)
  else results.append(node)
  $('reach-heading').setAttribute('tabindex', '-1')
}

async function relationships(resource, results) {
  const all = []
  const more = async (cursor) => {
    const page = await api.relationships(resource, cursor)
    all.push(...page.relationships)
    const node = relationshipsReport(resource, all, page.cursor, () => more(page.cursor).catch((err) => say(api.explainError(err), true)))
    const old = $('relationships')
    if (old) old.replaceWith(node)
    else results.append(node)
  }
  await more(undefined)
}

function fill(params) {
  const resourceMode = params.has('resource')
  $('resource').value = params.get('resource') ?? ''
  $('permission').value = resourceMode ? (params.get('permission') ?? '') : ''
  $('subject').value = resourceMode ? (params.get('subject') ?? '') : ''
  $('reach-subject').value = resourceMode ? '' : (params.get('subject') ?? '')
  $('reach-type').value = params.get('resourceType') ?? ''
  $('reach-permission').value = resourceMode ? '' : (params.get('permission') ?? '')
}

async function render() {
  const params = new URLSearchParams(location.search)
  fill(params)
  showKeyPanel()
  const results = $('results')
  results.replaceChildren()
  const resource = params.get('resource')
  const permission = params.get('permission')
  const subject = params.get('subject')
  if (!resource && !(subject && params.get('resourceType') && permission)) {
    say('Ask who can access an object, or what a subject can reach.')
    return
  }
  if (api.keyRequired() && !api.currentKey()) {
    say('Enter an API key to see the answer.')
    $('key').focus()
    return
  }
  say('Loading…')
  // each part on its own: a key with `audit` but not `check` still sees who holds it
  const failures = []
  const part = async (fn) => {
    try {
      await fn()
    } catch (err) {
      const text = api.explainError(err)
      if (!failures.includes(text)) results.append(el('p', { class: 'error report' }, text))
      failures.push(text)
    }
  }
  const limitOf = (fallback, max) => Math.min(Math.max(Math.floor(Number(params.get('limit'))) || fallback, 1), max)
  if (resource) {
    document.title = `${permission ? `${permission} on ` : ''}${resource} · Access explorer`
    if (subject && permission) await part(async () => results.append(whyReport(await api.explain(resource, permission, subject))))
    if (permission) await part(async () => results.append(whoReport(await api.accessReport(resource, permission), () => download(resource, permission))))
    await part(() => auditTrail(resource, results, { say, download: save, limit: limitOf(AUDIT_PAGE, 1000) }))
    await part(() => relationships(resource, results))
  } else {
    const limit = limitOf(PAGE, 1000)
    document.title = `What ${subject} can ${permission} · Access explorer`
    await part(() => reach({ subject, resourceType: params.get('resourceType'), permission, limit }, results, undefined, 1))
  }
  say(failures[0] ?? '', failures.length > 0)
}

function go(params) {
  history.pushState(null, '', `/explorer?${new URLSearchParams(Object.entries(params).filter(([, v]) => v))}`)
  render().then(() => $('main').focus())
}

$('who-form').addEventListener('submit', (e) => {
  e.preventDefault()
  go({ resource: $('resource').value.trim(), permission: $('permission').value.trim(), subject: $('subject').value.trim() })
})
$('reach-form').addEventListener('submit', (e) => {
  e.preventDefault()
  go({ subject: $('reach-subject').value.trim(), resourceType: $('reach-type').value.trim(), permission: $('reach-permission').value.trim() })
})
$('key-form').addEventListener('submit', (e) => {
  e.preventDefault()
  api.rememberKey($('key').value.trim())
  $('key').value = ''
  render()
})
$('forget-key').addEventListener('click', () => {
  api.forgetKey()
  render()
})
window.addEventListener('popstate', render)
render()
