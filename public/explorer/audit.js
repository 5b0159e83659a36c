/**
 * "Changes to this object": the audit trail (GET /v1/audit?object=...) beside the access report,
 * so a person sees not only who holds access now but who changed it, when, and through which
 * door. A person asks about the latest changes first, so the page reads the trail newest first
 * (`order=newest`: however long the trail, the top row is its newest write), follows the
 * cursor a bounded number of pages towards older writes, shows them a screenful at a time, and
 * offers to read on when the trail goes further back.
 */
import * as api from './api.js'
import { el, explorerLink } from './views.js'

/** records per API page (`&limit=` on the page's address changes it), and pages read before asking the person whether to read on */
export const AUDIT_PAGE = 200
const PAGES = 5
/** rows shown before "Show older changes" */
const SCREEN = 50
/** CSV pages followed for one download (1000 records each) */
const CSV_PAGES = 20

const OPERATION = { touch: 'wrote', create: 'created', delete: 'deleted' }

/** `2026-01-02T03:04:05.678Z` -> `2026-01-02 03:04:05 UTC`: the same for every reader */
const when = (at) => el('time', { datetime: at }, at.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC'))

function who(r) {
  return el(
    'ul',
    { class: 'plain compact' },
    el('li', {}, 'key ', el('strong', {}, r.keyName ?? '(event stream)'), el('span', { class: 'hint' }, ` via ${r.source}`)),
    r.event ? el('li', {}, 'event ', el('code', { class: 'event-type' }, r.event.type), ' ', el('span', { class: 'hint' }, r.event.id)) : undefined,
    r.event?.actor ? el('li', {}, 'actor ', explorerLink({ resource: r.event.actor }, r.event.actor)) : undefined,
  )
}

/** the gateway's own bookkeeping (guards that order concurrent events), not access: counted, not listed */
const internal = (c) => c.relationship.startsWith('internal_')

function changes(r) {
  const hidden = r.changes.filter(internal).length
  const rows = r.changes
    .filter((c) => !internal(c))
    .map((c) =>
      el(
        'li',
        { 'data-operation': c.operation },
        el('span', { class: `op ${c.operation}` }, OPERATION[c.operation] ?? c.operation),
        ' ',
        el('code', {}, c.relationship),
      ),
    )
  if (r.deleteFilter !== undefined && r.changes.length === 0) {
    rows.push(
      el(
        'li',
        { 'data-operation': 'delete' },
        el('span', { class: 'op delete' }, 'deleted by filter'),
        ' ',
        el('code', {}, r.deleteFilter),
        r.deletedCount !== undefined ? ` (${r.deletedCount})` : '',
      ),
    )
  }
  if (hidden) rows.push(el('li', { class: 'hint' }, `and ${hidden} internal guard ${hidden === 1 ? 'write' : 'writes'} (in the CSV)`))
  return el('ul', { class: 'plain compact' }, rows)
}

function auditReport(object, state, on) {
  const newest = state.records
  const shown = newest.slice(0, state.shown)
  const more = newest.length - shown.length
  return el(
    'section',
    { class: 'report', id: 'audit', 'aria-labelledby': 'audit-heading' },
    el(
      'h2',
      { id: 'audit-heading', tabindex: '-1' },
      el('span', {}, `Changes to ${object}`),
      el('button', { type: 'button', class: 'secondary', id: 'audit-csv', onclick: on.csv }, 'Download CSV'),
    ),
    el(
      'p',
      {},
      newest.length === 0
        ? state.cursor
          ? 'No change to it in the part of the trail read so far.'
          : 'No change to it is recorded.'
        : `${newest.length} ${newest.length === 1 ? 'write' : 'writes'} recorded${state.cursor ? ' so far' : ''}, newest first. The CSV lists every relationship of each.`,
    ),
    newest.length === 0
      ? undefined
      : el(
          'div',
          { class: 'scroll' },
          el(
            'table',
            { class: 'audit' },
            el('caption', {}, `Writes that touched ${object}, newest first (${shown.length} of ${newest.length} shown)`),
            el(
              'thead',
              {},
              el(
                'tr',
                {},
                ['When', 'Who', 'Relationships written or deleted'].map((h) => el('th', { scope: 'col' }, h)),
              ),
            ),
            el(
              'tbody',
              {},
              shown.map((r) => el('tr', { 'data-id': r.id }, el('td', {}, when(r.at)), el('td', {}, who(r)), el('td', {}, changes(r)))),
            ),
          ),
        ),
    el(
      'div',
      { class: 'pager' },
      more > 0
        ? el('button', { type: 'button', class: 'secondary', id: 'audit-older', onclick: on.older }, `Show ${Math.min(more, SCREEN)} older changes`)
        : undefined,
      state.cursor ? el('button', { type: 'button', class: 'secondary', id: 'audit-more', onclick: on.later }, 'Read further back in the trail') : undefined,
    ),
  )
}

/** Reads the trail of one object into `results`; errors go to the caller like any other part. */
export async function auditTrail(object, results, { say, download, limit = AUDIT_PAGE, until }) {
  const state = { records: [], cursor: undefined, shown: SCREEN }
  /** after a button redraws the section, focus stays where the person was (or on the heading) */
  const refocus = (id) => (document.getElementById(id) ?? document.getElementById('audit-heading'))?.focus()
  const draw = () => {
    const node = auditReport(until ? `${object} up to ${until}` : object, state, {
      csv: () => downloadCsv(object, download).catch((err) => say(api.explainError(err), true)),
      older: () => {
        state.shown += SCREEN
        draw()
        refocus('audit-older')
      },
      later: () =>
        read()
          .then(() => {
            draw()
            refocus('audit-more')
          })
          .catch((err) => say(api.explainError(err), true)),
    })
    const old = document.getElementById('audit')
    if (old) old.replaceWith(node)
    else results.append(node)
  }
  const read = async () => {
    for (let i = 0; i < PAGES; i++) {
      const page = await api.audit(object, limit, state.cursor, 'newest', until)
      state.records.push(...page.records)
      state.cursor = page.cursor
      if (!page.cursor) return
    }
  }
  await read()
  draw()
}

/** The API's CSV, page after page (the header once), as a file. */
async function downloadCsv(object, download) {
  let { csv, cursor } = await api.auditCsv(object, 1000)
  for (let i = 1; cursor && i < CSV_PAGES; i++) {
    const next = await api.auditCsv(object, 1000, cursor)
    csv += next.csv.slice(next.csv.indexOf('\n') + 1)
    cursor = next.cursor
  }
  download(csv, `audit-${object.replace(/[^a-zA-Z0-9_-]/g, '_')}.csv`)
}
