/**
 * "What changed between": who gained and who lost a permission on an object between two
 * times (GET /v1/access-changes), each with the recorded write behind it (its time, event type
 * and id, actor, key) and the path held by: after a gain, before a loss. A change that came
 * through the organization shows as well as one on the object itself, since the API compares
 * who holds it, not the object's relationships. The API answers at most HISTORY_MAX_REVISIONS
 * writes a call; the page follows its cursor a bounded number of times and says when it stopped.
 */
import * as api from './api.js'
import { chainOf, chainText } from './chains.js'
import { chainNode, el, explorerLink } from './views.js'

/** paths that read the same (an admin's view through two organization permissions) are drawn once; the CSV has each */
const distinct = (resource, paths) => {
  const seen = new Set()
  return paths.filter((p) => {
    const text = chainText(chainOf(resource, p))
    return !seen.has(text) && seen.add(text)
  })
}

/** calls followed for one view (or one CSV) before the page stops and says so */
const CALLS = 10

const when = (at) => el('time', { datetime: at }, at.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC'))

function write(w) {
  return el(
    'ul',
    { class: 'plain compact' },
    w.type
      ? el('li', {}, 'event ', el('code', { class: 'event-type' }, w.type), ' ', el('span', { class: 'hint' }, w.event))
      : el('li', {}, 'write ', el('code', {}, w.source)),
    w.actor ? el('li', {}, 'actor ', explorerLink({ resource: w.actor }, w.actor)) : undefined,
    w.key ? el('li', {}, 'key ', el('strong', {}, w.key)) : undefined,
  )
}

function table(id, title, resource, rows) {
  return el(
    'section',
    { class: 'how', id, 'aria-labelledby': `${id}-heading` },
    el('h3', { id: `${id}-heading` }, `${title} (${rows.length})`),
    rows.length === 0
      ? el('p', {}, 'No one.')
      : el(
          'div',
          { class: 'scroll' },
          el(
            'table',
            { class: 'audit' },
            el(
              'thead',
              {},
              el(
                'tr',
                {},
                ['When', 'Who', 'Held by', 'The write behind it'].map((h) => el('th', { scope: 'col' }, h)),
              ),
            ),
            el(
              'tbody',
              {},
              rows.map((c) =>
                el(
                  'tr',
                  { 'data-subject': c.subject },
                  el('td', {}, when(c.at)),
                  el('td', {}, explorerLink({ resource, permission: c.permission, subject: c.subject, asOf: c.at }, c.subject)),
                  el(
                    'td',
                    {},
                    c.via.length
                      ? el(
                          'ul',
                          { class: 'plain compact' },
                          distinct(resource, c.via).map((p) => el('li', {}, chainNode(resource, p))),
                        )
                      : el('span', { class: 'hint' }, 'no path shown'),
                  ),
                  el('td', {}, write(c.write)),
                ),
              ),
            ),
          ),
        ),
  )
}

/** Reads the changes in [since, until] into `results`. */
export async function changedReport(q, results, { say, download }) {
  const changes = []
  let cursor
  let calls = 0
  do {
    const page = await api.accessChanges(q.resource, q.permission, q.since, q.until, cursor)
    changes.push(...page.changes.map((c) => ({ ...c, permission: q.permission })))
    cursor = page.cursor
    q.sinceRead ??= page.since
    q.untilRead = page.until
  } while (cursor && ++calls < CALLS)
  const gained = changes.filter((c) => c.change === 'gained')
  const lost = changes.filter((c) => c.change === 'lost')
  const csv = () => downloadCsv(q, download).catch((err) => say(api.explainError(err), true))
  results.append(
    el(
      'section',
      { class: 'report', id: 'changed', 'aria-labelledby': 'changed-heading' },
      el(
        'h2',
        { id: 'changed-heading' },
        el('span', {}, `What changed: ${q.permission} on ${q.resource}`),
        el('button', { type: 'button', class: 'secondary', id: 'changed-csv', onclick: csv }, 'Download CSV'),
      ),
      el(
        'p',
        { id: 'changed-window' },
        'Between ',
        when(q.sinceRead),
        ' and ',
        when(q.untilRead),
        `: ${gained.length} gained it, ${lost.length} lost it.`,
        cursor ? ' The window holds more writes than were read: narrow it to see the rest.' : '',
        ' The CSV lists both, with every path and write.',
      ),
      table('gained', 'Gained', q.resource, gained),
      table('lost', 'Lost', q.resource, lost),
    ),
  )
}

/** The API's CSV of both, page after page (the header once), as a file. */
async function downloadCsv(q, download) {
  let { csv, cursor } = await api.accessChangesCsv(q.resource, q.permission, q.since, q.until)
  for (let i = 1; cursor && i < CALLS; i++) {
    const next = await api.accessChangesCsv(q.resource, q.permission, q.since, q.until, cursor)
    csv += next.csv.slice(next.csv.indexOf('\n') + 1)
    cursor = next.cursor
  }
  download(csv, `access-changes-${q.resource.replace(/[^a-zA-Z0-9_-]/g, '_')}-${q.permission}.csv`)
}
