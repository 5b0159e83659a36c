/**
 * The explorer's state is its URL, so a report can be shared as a link:
 *   ?resource=client:c1&permission=view            who holds it, and how
 *   ?resource=client:c1&permission=coach&subject=user:rob   and why (not) for one subject
 *   ?subject=user:rob&resourceType=client&permission=coach  what a subject can reach
 *   ?resource=organization:acme                     the relationships of an object
 *   ?resource=client:c1&permission=view&since=...&until=...  who gained or lost it between two times
 * Every ?resource= page also shows the changes to that object (the audit trail; &limit= sets
 * its page size). &asOf=<ISO time> on any of them answers as it was at that moment.
 */
import * as api from './api.js'
import { AUDIT_PAGE, auditTrail } from './audit.js'
import { changedReport } from './changed.js'
import { el, reachReport, relationshipsReport, whyReport } from './views.js'
import { whoReport } from './who.js'

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

async function download(resource, permission, asOf) {
  try {
    const when = asOf ? `-${asOf.replace(/[^0-9TZ]/g, '')}` : ''
    save(await api.accessReportCsv(resource, permission, asOf), `access-${resource.replace(/[^a-zA-Z0-9_-]/g, '_')}-${permission}${when}.csv`)
  } catch (err) {
    say(api.explainError(err), true)
  }
}

/** Lookup pages: the cursor of each page, so "first page" needs no cursor at all. */
async function reach(q, results, cursor, pageNo) {
  const page = await api.lookupResources(q.subject, q.resourceType, q.permission, q.limit, cursor, q.asOf)
  const node = reachReport(q, page, pageNo, (where) => {
    const next = where === 'next' ? reach(q, results, page.cursor, pageNo + 1) : reach(q, results, undefined, 1)
    next.catch((err) => say(api.explainError(err), true))
  })
  const old = $('reach')
  if (old) old.replaceWith(node)
  else results.append(node)
  $('reach-heading').setAttribute('tabindex', '-1')
}

async function relationships(resource, results, asOf) {
  const all = []
  const more = async (cursor) => {
    const page = await api.relationships(resource, cursor, asOf)
    all.push(...page.relationships)
    const node = relationshipsReport(resource, all, page.cursor, () => more(page.cursor).catch((err) => say(api.explainError(err), true)), asOf)
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
  const changedMode = resourceMode && (params.has('since') || params.has('until'))
  $('as-of').value = resourceMode && !changedMode ? (params.get('asOf') ?? '') : ''
  $('reach-as-of').value = resourceMode ? '' : (params.get('asOf') ?? '')
  $('changed-resource').value = changedMode ? (params.get('resource') ?? '') : ''
  $('changed-permission').value = changedMode ? (params.get('permission') ?? '') : ''
  $('since').value = changedMode ? (params.get('since') ?? '') : ''
  $('until').value = changedMode ? (params.get('until') ?? '') : ''
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
  const asOf = params.get('asOf') || undefined
  if (resource && permission && (params.has('since') || params.has('until'))) {
    document.title = `What changed: ${permission} on ${resource} · Access explorer`
    const q = { resource, permission, since: params.get('since')?.trim() || undefined, until: params.get('until')?.trim() || undefined }
    await part(() => changedReport(q, results, { say, download: save }))
  } else if (resource) {
    document.title = `${permission ? `${permission} on ` : ''}${resource}${asOf ? ` as of ${asOf}` : ''} · Access explorer`
    if (asOf)
      results.append(
        el(
          'p',
          { class: 'report as-of', id: 'as-of-note' },
          `As of ${asOf}: every answer below is as it was then, and the changes listed are those made up to then.`,
        ),
      )
    if (subject && permission) await part(async () => results.append(whyReport(await api.explain(resource, permission, subject, asOf), asOf)))
    if (permission)
      await part(async () =>
        results.append(whoReport(await api.accessReport(resource, permission, asOf), () => download(resource, permission, asOf), { asOf })),
      )
    await part(() => auditTrail(resource, results, { say, download: save, limit: limitOf(AUDIT_PAGE, 1000), until: asOf }))
    await part(() => relationships(resource, results, asOf))
  } else {
    const limit = limitOf(PAGE, 1000)
    document.title = `What ${subject} can ${permission}${asOf ? ` as of ${asOf}` : ''} · Access explorer`
    await part(() => reach({ subject, resourceType: params.get('resourceType'), permission, limit, asOf }, results, undefined, 1))
  }
  say(failures[0] ?? '', failures.length > 0)
}

function go(params) {
  history.pushState(null, '', `/explorer?${new URLSearchParams(Object.entries(params).filter(([, v]) => v))}`)
  render().then(() => $('main').focus())
}

$('who-form').addEventListener('submit', (e) => {
  e.preventDefault()
  go({ resource: $('resource').value.trim(), permission: $('permission').value.trim(), subject: $('subject').value.trim(), asOf: $('as-of').value.trim() })
})
$('changed-form').addEventListener('submit', (e) => {
  e.preventDefault()
  // an empty "from" still marks the question as "what changed": the API then reads as far back as is kept
  go({
    resource: $('changed-resource').value.trim(),
    permission: $('changed-permission').value.trim(),
    since: $('since').value.trim() || ' ',
    until: $('until').value.trim(),
  })
})
$('reach-form').addEventListener('submit', (e) => {
  e.preventDefault()
  go({
    subject: $('reach-subject').value.trim(),
    resourceType: $('reach-type').value.trim(),
    permission: $('reach-permission').value.trim(),
    asOf: $('reach-as-of').value.trim(),
  })
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
