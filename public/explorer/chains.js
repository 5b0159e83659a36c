/**
 * Paths as people read them. The API gives a path as steps from the resource's permission to
 * the relationship that grants it, with the links on the way, e.g.
 *   client:c1#view, client:c1#organization@organization:acme,
 *   organization:acme#can_view_all_clients, organization:acme#view_all_clients@user:vic
 * and the page draws the objects it passes through, the links and the relationship at its end:
 *   client:c1 -> organization -> organization:acme -> view_all_clients -> user:vic
 */

/** `type:id#relation@subject[caveat]` or `type:id#relation`, split into its parts */
export function parseStep(step) {
  const at = step.indexOf('@')
  const head = at < 0 ? step : step.slice(0, at)
  const hash = head.indexOf('#')
  const object = hash < 0 ? head : head.slice(0, hash)
  const relation = hash < 0 ? '' : head.slice(hash + 1)
  if (at < 0) return { object, relation }
  let subject = step.slice(at + 1)
  let caveat = ''
  const bracket = subject.indexOf('[')
  if (bracket >= 0) {
    caveat = subject.slice(bracket + 1, subject.endsWith(']') ? -1 : undefined)
    subject = subject.slice(0, bracket)
  }
  return { object, relation, subject, caveat }
}

const objectOf = (subject) => subject.split('#')[0]

/** Tokens of a chain: {kind: 'object' | 'relation' | 'subject' | 'condition', text}. */
export function chainOf(resource, path) {
  const tokens = [{ kind: 'object', text: resource }]
  let last = resource
  // the relationship that grants it: the last step naming a subject
  const final = path.findLastIndex((step) => !step.startsWith('and ') && step.includes('@'))
  path.forEach((step, i) => {
    if (step.startsWith('and ')) {
      tokens.push({ kind: 'condition', text: step })
      return
    }
    const s = parseStep(step)
    if (s.object !== last) {
      tokens.push({ kind: 'object', text: s.object })
      last = s.object
    }
    if (s.subject === undefined) return
    tokens.push({ kind: 'relation', text: s.caveat ? `${s.relation} [${s.caveat}]` : s.relation })
    if (i === final) {
      tokens.push({ kind: 'subject', text: s.subject })
      last = s.subject
    } else {
      // a link on the way (client:c1#organization@organization:acme, or a subject set
      // group:g1#member that the following steps expand): an object the path passes through
      tokens.push({ kind: 'object', text: objectOf(s.subject) })
      last = objectOf(s.subject)
    }
  })
  return tokens
}

/** what goes before a token: an arrow, or a comma before the other half of an intersection */
export const separatorOf = (token) => (token.kind === 'condition' ? ', ' : ' -> ')

export const chainText = (tokens) => tokens.map((t, i) => (i > 0 ? separatorOf(t) : '') + t.text).join('')

export const HOW = {
  direct: 'Directly on the object',
  organization: 'Through the organization',
  programOrGroup: 'Through a program or group',
  other: 'Through another object',
  unknown: 'Path not shown',
}

/** How a path grants access: by the first object it passes through on the way to the subject. */
export function howOf(tokens) {
  const between = tokens.slice(1).filter((t) => t.kind === 'object')
  const first = between[0]?.text.split(':')[0]
  if (first === undefined) return 'direct'
  if (first === 'organization') return 'organization'
  if (first === 'program' || first === 'group') return 'programOrGroup'
  return 'other'
}
