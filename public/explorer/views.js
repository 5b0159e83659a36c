/**
 * What the page draws for each answer. Everything is built as DOM nodes with text content,
 * never as HTML strings, so an id holding markup stays text.
 */
import { chainOf, parseStep, separatorOf } from './chains.js'

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    if (k === 'class') node.className = v
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v)
    else node.setAttribute(k, v === true ? '' : v)
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c)
  return node
}

/** A link to the explorer itself, so every object and subject can be followed. */
export const explorerLink = (params, text) => el('a', { href: `/explorer?${new URLSearchParams(params)}` }, text)

const PERMISSIONSHIP = { has_permission: 'yes', no_permission: 'no', conditional: 'conditional' }
export const badge = (p) => (p && p !== 'has_permission' ? el('span', { class: 'badge' }, PERMISSIONSHIP[p] ?? p) : undefined)

/** A path drawn as a chain; objects link to their relationships. */
export function chainNode(resource, path) {
  const tokens = chainOf(resource, path)
  const parts = []
  tokens.forEach((t, i) => {
    if (i > 0) parts.push(el('span', { class: 'sep' }, separatorOf(t)))
    if (t.kind === 'object' || t.kind === 'subject') parts.push(explorerLink({ resource: t.text }, t.text))
    else parts.push(el('span', { class: t.kind }, t.text))
  })
  return el('span', { class: 'chain', title: path.join(' > ') }, parts)
}

export function whyReport(x, asOf) {
  const verdict = x.permissionship === 'conditional' ? `Only if: ${(x.missingContext ?? []).join(', ') || 'a condition holds'}` : x.allowed ? 'Yes' : 'No'
  return el(
    'section',
    { class: 'report', id: 'why', 'aria-labelledby': 'why-heading' },
    el(
      'h2',
      { id: 'why-heading' },
      asOf ? `Could ${x.subject} ${x.permission} ${x.resource} as of ${asOf}?` : `Can ${x.subject} ${x.permission} ${x.resource}?`,
    ),
    el('p', { class: `answer ${x.allowed ? 'yes' : 'no'}`, id: 'verdict' }, verdict),
    x.paths.length
      ? [
          el('h3', {}, 'Because'),
          el(
            'ul',
            { class: 'paths' },
            x.paths.map((p) => el('li', {}, chainNode(x.resource, p))),
          ),
        ]
      : undefined,
    !x.allowed
      ? [
          el('h3', {}, 'What was tried'),
          el(
            'ul',
            { class: 'plain', id: 'tried' },
            x.tried.map((a) =>
              el(
                'li',
                {},
                el('code', {}, a.relation),
                ` ${a.result.replaceAll('_', ' ')}`,
                a.caveat
                  ? ` (condition ${a.caveat.name}: ${a.caveat.result}${a.caveat.missing?.length ? `, missing ${a.caveat.missing.join(', ')}` : ''})`
                  : '',
              ),
            ),
          ),
          // what the subject does hold here, and what would grant the permission
          x.holds
            ? el('p', { id: 'holds' }, `${x.subject} holds `, x.holds.length ? el('code', {}, x.holds.join(', ')) : 'nothing directly', ` on ${x.resource}.`)
            : undefined,
          x.grantedBy ? el('p', { id: 'granted-by' }, `${x.permission} needs `, el('code', {}, x.grantedBy), '.') : undefined,
        ]
      : undefined,
  )
}

export function reachReport(q, page, pageNo, onPage) {
  return el(
    'section',
    { class: 'report', id: 'reach', 'aria-labelledby': 'reach-heading' },
    el(
      'h2',
      { id: 'reach-heading' },
      `What ${q.subject} ${q.asOf ? 'could' : 'can'} ${q.permission}: ${q.resourceType} objects${q.asOf ? ` as of ${q.asOf}` : ''}`,
    ),
    page.resources.length === 0 && pageNo === 1 ? el('p', {}, 'Nothing.') : undefined,
    el(
      'ol',
      { class: 'plain', start: String((pageNo - 1) * q.limit + 1) },
      page.resources.map((r) =>
        el(
          'li',
          {},
          explorerLink(
            { resource: `${q.resourceType}:${r.id}`, permission: q.permission, subject: q.subject, ...(q.asOf ? { asOf: q.asOf } : {}) },
            `${q.resourceType}:${r.id}`,
          ),
          badge(r.permissionship),
        ),
      ),
    ),
    el(
      'div',
      { class: 'pager' },
      el('span', {}, `Page ${pageNo}`),
      pageNo > 1 ? el('button', { type: 'button', class: 'secondary', id: 'first-page', onclick: () => onPage('first') }, 'First page') : undefined,
      page.cursor && page.resources.length
        ? el('button', { type: 'button', class: 'secondary', id: 'next-page', onclick: () => onPage('next') }, 'Next page')
        : undefined,
    ),
  )
}

/** Read-only: each relationship with links to the objects it names. */
export function relationshipsReport(resource, list, cursor, onMore, asOf) {
  return el(
    'section',
    { class: 'report', id: 'relationships', 'aria-labelledby': 'rel-heading' },
    el('h2', { id: 'rel-heading' }, `Relationships of ${resource}${asOf ? ` as of ${asOf}` : ''}`),
    list.length === 0 ? el('p', {}, 'None.') : undefined,
    el(
      'ul',
      { class: 'plain' },
      list.map((r) => {
        const s = parseStep(r)
        const subject = s.subject ?? ''
        const [subjectObject, subjectRelation] = subject.split('#')
        return el(
          'li',
          { 'data-relationship': r },
          explorerLink({ resource: s.object }, s.object),
          el('span', { class: 'relation' }, `#${s.relation}@`),
          explorerLink({ resource: subjectObject }, subjectObject),
          subjectRelation ? `#${subjectRelation}` : '',
          s.caveat ? el('span', { class: 'hint' }, ` [${s.caveat}]`) : '',
        )
      }),
    ),
    cursor ? el('button', { type: 'button', class: 'secondary', id: 'more-relationships', onclick: onMore }, 'More') : undefined,
  )
}
