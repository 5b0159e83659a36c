/**
 * Which recorded writes can change who holds a permission on one object: the rule that keeps
 * access changes' cost proportional to the writes that reach the object, not to every write of
 * the business.
 *
 * SpiceDB evaluates a permission by walking relationships outwards from the resource: its own
 * relations, the objects its arrows point at, the subject sets it names, and theirs. A write that
 * touches none of the objects a full walk visits at the revision before it cannot change the
 * answer (the walk after it reads the same relationships, so it visits the same objects), and
 * leaves the visited set as it was. So one expansion at each write that does touch the set keeps
 * the set exact, and every other write is skipped without asking the engine anything.
 *
 * Conservative where the walk is not known in full: an expansion cut short by its budget, a
 * delete by filter (its relationships are not listed), an import or reconcile (its changes are
 * listed only when few) all count as touching.
 */
import type { AuditRecord } from './auditor.js'
import type { TreeNode } from '../questions/expand.js'

/** The objects (`type:id`) a full expansion visited; undefined when it was cut short. */
export function visitedObjects(tree: TreeNode): Set<string> | undefined {
  const out = new Set<string>()
  let complete = true
  const walk = (n: TreeNode) => {
    out.add(n.object)
    if (n.truncated) complete = false
    for (const c of n.children ?? []) walk(c)
    for (const s of n.subjects ?? []) if (s.tree) walk(s.tree)
  }
  walk(tree)
  return complete ? out : undefined
}

const typeOf = (ref: string) => ref.slice(0, ref.indexOf(':'))
const objectOf = (relationship: string) => relationship.slice(0, relationship.indexOf('#'))

/**
 * Whether this write may change who holds the permission: it touches a type the permission can
 * depend on (`types`) and, when the visited objects are known, one of them.
 */
export function mayChangeHolders(r: AuditRecord, types: ReadonlySet<string>, visited: ReadonlySet<string> | undefined): boolean {
  if (r.bulk) return true
  if (r.deleteFilter !== undefined) return types.has(typeOf(r.deleteFilter + ':'))
  return r.changes.some((c) => {
    if (c.relationship.startsWith('internal_') || !types.has(typeOf(c.relationship))) return false
    return visited === undefined || visited.has(objectOf(c.relationship))
  })
}
