/**
 * "Who holds": everyone who holds a permission on an object, and how. At real sizes (1,500
 * people able to view one client) one list is tens of thousands of pixels tall, so the rows
 * (one per holder and path) are paged, 50 at a time, and filtered by subject (the text a
 * person types, matched anywhere in the subject) and by the kind of path (directly on the
 * object, through the organization, through a program or group). The counts above the list
 * are of the whole answer; the CSV is always the whole answer.
 */
import { HOW, chainOf, chainText, howOf } from './chains.js'
import { badge, chainNode, el } from './views.js'

export const WHO_PAGE = 50

/** one row per subject and distinct chain: paths that read the same are drawn once */
function rowsOf(report) {
  const rows = []
  for (const s of report.subjects) {
    if (s.via.length === 0) rows.push({ s, path: undefined, how: 'unknown' })
    const seen = new Set()
    for (const path of s.via) {
      const tokens = chainOf(report.resource, path)
      if (seen.has(chainText(tokens))) continue
      seen.add(chainText(tokens))
      rows.push({ s, path, how: howOf(tokens) })
    }
  }
  return rows
}

function filters(state, kinds, on) {
  return el(
    'div',
    { class: 'filters', role: 'search' },
    el('label', { for: 'who-filter' }, 'Subject contains'),
    el('input', { id: 'who-filter', type: 'search', value: state.text, placeholder: 'user:rob', spellcheck: 'false', oninput: (e) => on.text(e.target.value) }),
    el('label', { for: 'who-how' }, 'Path'),
    el(
      'select',
      { id: 'who-how', onchange: (e) => on.how(e.target.value) },
      el('option', { value: '' }, 'every kind'),
      kinds.map((k) => el('option', { value: k, selected: state.how === k }, HOW[k])),
    ),
  )
}

function list(report, rows) {
  const groups = new Map(Object.keys(HOW).map((k) => [k, []]))
  for (const r of rows) groups.get(r.how).push(r)
  return [...groups]
    .filter(([, g]) => g.length)
    .map(([how, g]) =>
      el(
        'section',
        { class: 'how', 'data-how': how },
        el('h3', {}, `${HOW[how]} (${g.length} on this page)`),
        el(
          'ul',
          { class: 'holders' },
          g.map(({ s, path }) =>
            el(
              'li',
              {},
              el('span', { class: 'who' }, s.subject, badge(s.permissionship)),
              path ? chainNode(report.resource, path) : el('span', { class: 'hint' }, 'held, but the expanded tree shows no path'),
            ),
          ),
        ),
      ),
    )
}

/** The section, which redraws itself as the person filters and pages; `asOf` is the moment read, when not now. */
export function whoReport(report, onCsv, { asOf, pageSize = WHO_PAGE, focus = 'who-filter' } = {}) {
  const all = rowsOf(report)
  const kinds = Object.keys(HOW).filter((k) => all.some((r) => r.how === k))
  const state = { text: '', how: '', page: 1 }
  const who = new Set(report.subjects.map((s) => s.subject)).size
  const held = asOf ? 'held' : 'holds'
  let node
  const draw = (keep) => {
    const matching = all.filter((r) => r.s.subject.includes(state.text.trim()) && (!state.how || r.how === state.how))
    const pages = Math.max(1, Math.ceil(matching.length / pageSize))
    state.page = Math.min(state.page, pages)
    const shown = matching.slice((state.page - 1) * pageSize, state.page * pageSize)
    const on = {
      text: (v) => {
        state.text = v
        state.page = 1
        draw('who-filter')
      },
      how: (v) => {
        state.how = v
        state.page = 1
        draw('who-how')
      },
      page: (n, id) => {
        state.page = n
        draw(id)
      },
    }
    const next = el(
      'section',
      { class: 'report', id: 'who', 'aria-labelledby': 'who-heading' },
      el(
        'h2',
        { id: 'who-heading' },
        el('span', {}, `Who ${held} ${report.permission} on ${report.resource}${asOf ? ` as of ${asOf}` : ''}`),
        el('button', { type: 'button', class: 'secondary', id: 'csv', onclick: onCsv }, 'Download CSV'),
      ),
      el(
        'p',
        {},
        who === 0
          ? `No one ${held} it.`
          : `${who} ${who === 1 ? 'subject' : 'subjects'} ${asOf ? 'held' : who === 1 ? 'holds' : 'hold'} it, by ${all.length} ${all.length === 1 ? 'path' : 'paths'}. The CSV lists every step of each.`,
      ),
      all.length > 0 ? filters(state, kinds, on) : undefined,
      all.length > 0
        ? el(
            'p',
            { id: 'who-count', role: 'status' },
            matching.length === all.length
              ? `Rows ${shown.length ? (state.page - 1) * pageSize + 1 : 0} to ${(state.page - 1) * pageSize + shown.length} of ${all.length}`
              : `${matching.length} of ${all.length} rows match; rows ${shown.length ? (state.page - 1) * pageSize + 1 : 0} to ${(state.page - 1) * pageSize + shown.length}`,
          )
        : undefined,
      list(report, shown),
      pages > 1
        ? el(
            'div',
            { class: 'pager' },
            el('span', { id: 'who-page' }, `Page ${state.page} of ${pages}`),
            state.page > 1
              ? el('button', { type: 'button', class: 'secondary', id: 'who-prev', onclick: () => on.page(state.page - 1, 'who-prev') }, 'Previous page')
              : undefined,
            state.page < pages
              ? el('button', { type: 'button', class: 'secondary', id: 'who-next', onclick: () => on.page(state.page + 1, 'who-next') }, 'Next page')
              : undefined,
          )
        : undefined,
    )
    if (node) node.replaceWith(next)
    node = next
    // typing or paging keeps the person where they were
    if (keep) {
      const target = document.getElementById(keep) ?? document.getElementById(focus)
      target?.focus()
      if (keep === 'who-filter' && target) target.setSelectionRange(target.value.length, target.value.length)
    }
  }
  draw()
  return node
}
