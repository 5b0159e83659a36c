/**
 * Expansion trees and the paths they contain.
 *
 * SpiceDB's expand follows arrows itself but leaves subject sets (`group:g1#member` as a
 * subject) as leaves; the gateway expands those too, so callers get the whole tree.
 *
 * SpiceDB draws an arrow as a node repeating the permission being computed, over the targets'
 * trees; with the schema's arrows at hand the gateway draws it as the relation it walks
 * instead (`client:c1#organization` listing `organization:acme` with its tree), so the link the
 * access depends on shows in the tree and in every path through it.
 */
import type { Consistency, EnginePort, ExpandTree, ObjectRef } from '../../engine/port.js'
import { formatObject, formatSubject } from '../wire/refs.js'
import type { SchemaArrows } from '../schema/arrows.js'

/** The tree as the REST API shows it. */
export interface TreeNode {
  object: string
  relation: string
  operation?: 'union' | 'intersection' | 'exclusion'
  children?: TreeNode[]
  subjects?: { subject: string; tree?: TreeNode }[]
  truncated?: boolean
}

export async function expandFully(
  engine: EnginePort,
  resource: ObjectRef,
  permission: string,
  consistency: Consistency,
  options: { arrows?: SchemaArrows; maxExpansions?: number; signal?: AbortSignal } = {},
): Promise<{ tree: TreeNode; expandedAt: string }> {
  const { arrows, maxExpansions = 200, signal } = options
  const root = await engine.expand(resource, permission, consistency, { signal })
  // Nested expansions read at least as fresh as the root, so the tree is one consistent view.
  const nested: Consistency = root.expandedAt ? { mode: 'at_least_as_fresh', token: root.expandedAt } : consistency
  let budget = maxExpansions
  const seen = new Set<string>([`${formatObject(resource)}#${permission}`])

  async function convert(t: ExpandTree, parent?: ExpandTree): Promise<TreeNode> {
    const node: TreeNode = { object: formatObject(t.expanded), relation: t.expanded.relation }
    const walked = arrows && arrowRelation(t, parent, arrows)
    if (walked && 'children' in t) {
      node.relation = walked
      node.subjects = await Promise.all(t.children.map(async (c) => ({ subject: formatObject(c.expanded), tree: await convert(c, t) })))
      return node
    }
    if ('children' in t) {
      node.operation = t.operation
      node.children = await Promise.all(t.children.map((c) => convert(c, t)))
      return node
    }
    node.subjects = []
    for (const s of t.leaf.subjects) {
      const entry: { subject: string; tree?: TreeNode } = { subject: formatSubject(s) }
      if (s.relation && !seen.has(entry.subject)) {
        seen.add(entry.subject)
        if (budget-- > 0) {
          const sub = await engine.expand({ type: s.type, id: s.id }, s.relation, nested, { signal })
          entry.tree = await convert(sub.tree)
        } else {
          node.truncated = true
        }
      }
      node.subjects.push(entry)
    }
    return node
  }

  const tree = await convert(root.tree)
  // a permission that is one arrow: keep the asked permission at the root
  const whole: TreeNode = tree.relation === permission ? tree : { object: tree.object, relation: permission, operation: 'union', children: [tree] }
  return { tree: whole, expandedAt: root.expandedAt }
}

const sameObject = (a: ExpandTree['expanded'], b: ExpandTree['expanded']) => a.type === b.type && a.id === b.id

/**
 * The relation an arrow node walks, or undefined when the node is not an arrow. An arrow is a
 * union whose children all sit on other objects (a parenthesised sub-expression's children sit
 * on the same object), or an empty union repeating its parent's permission (an arrow that
 * found no object).
 */
function arrowRelation(t: ExpandTree, parent: ExpandTree | undefined, arrows: SchemaArrows): string | undefined {
  if (!('children' in t) || t.operation !== 'union') return undefined
  const { type, relation } = t.expanded
  if (t.children.length === 0) {
    const repeats = parent && sameObject(parent.expanded, t.expanded) && parent.expanded.relation === relation
    return repeats ? arrows.tuplesetOf(type, relation) : undefined
  }
  if (t.children.some((c) => sameObject(c.expanded, t.expanded))) return undefined
  const walked = new Set(t.children.map((c) => arrows.tuplesetOf(type, relation, c.expanded.type, c.expanded.relation)))
  const [only] = walked
  return walked.size === 1 ? only : undefined
}

/** Every path from the root to each concrete subject; a path ends with the relationship that grants it. */
export type Paths = Map<string, string[][]>

export function pathsBySubject(node: TreeNode): Paths {
  const out: Paths = new Map()
  const add = (subject: string, path: string[]) => {
    const list = out.get(subject) ?? []
    if (!list.some((p) => p.join('>') === path.join('>'))) list.push(path)
    out.set(subject, list)
  }
  const here = `${node.object}#${node.relation}`
  const prefix = (p: string[]) => (p[0] === here || p[0]?.startsWith(`${here}@`) ? p : [here, ...p])

  if (node.subjects) {
    for (const s of node.subjects) {
      const direct = `${here}@${s.subject}`
      if (s.tree) {
        for (const [subject, paths] of pathsBySubject(s.tree)) for (const p of paths) add(subject, [direct, ...p])
      } else if (!s.subject.includes('#')) {
        add(s.subject, [direct])
      }
    }
    return out
  }

  const children = (node.children ?? []).map(pathsBySubject)
  if (node.operation === 'intersection') {
    const [first, ...rest] = children
    for (const [subject, paths] of first ?? new Map<string, string[][]>()) {
      if (!rest.every((c) => c.has(subject))) continue
      const also = rest.map((c) => `and ${c.get(subject)![0]!.join(' > ')}`)
      for (const p of paths) add(subject, prefix([...p, ...also]))
    }
  } else if (node.operation === 'exclusion') {
    const [base, excluded] = children
    for (const [subject, paths] of base ?? new Map<string, string[][]>()) {
      if (excluded?.has(subject)) continue
      for (const p of paths) add(subject, prefix(p))
    }
  } else {
    for (const c of children) for (const [subject, paths] of c) for (const p of paths) add(subject, prefix(p))
  }
  return out
}
