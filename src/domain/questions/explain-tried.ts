/**
 * What a "no" tried, the same on every call. SpiceDB answers a sub-problem it has already
 * answered at that revision from its dispatch cache, and its trace then holds the
 * permission alone (`client:c1#coach`, kind unspecified, no children) where a first call listed the relations
 * under it: four identical calls read in different orders and lengths. A childless
 * permission node is therefore opened from the schema: its relations are leaves, its
 * permissions are opened in turn, and an arrow follows the objects its relation names (read at
 * the same revision). Only a union is opened this way: every leaf of a union that answered no
 * answered no too; an intersection or exclusion keeps the node as the trace gave it.
 */
import type { Consistency, EnginePort, TraceNode } from '../../engine/port.js'
import { formatObject } from '../wire/refs.js'
import type { SchemaArrows } from '../schema/arrows.js'

export interface Attempt {
  relation: string
  result: string
  caveat?: { name: string; result: string; missing?: string[] }
}

/** how deep a cached permission is opened, and how many objects one arrow follows */
const MAX_DEPTH = 6
const MAX_TARGETS = 50
const TERM = /([a-z_][a-z0-9_]*)(?:\s*->\s*([a-z_][a-z0-9_]*))?/g

type Ctx = { engine: EnginePort; arrows?: SchemaArrows; at: Consistency; signal?: AbortSignal }

/** The leaves SpiceDB evaluated (direct relations and the caveats on them), cached permissions opened; sorted, without repeats. */
export async function triedLeaves(root: TraceNode | undefined, ctx: Ctx): Promise<Attempt[]> {
  const out: Attempt[] = []
  const add = (a: Attempt) => {
    if (!out.some((o) => o.relation === a.relation && o.result === a.result)) out.push(a)
  }
  const walk = async (node: TraceNode) => {
    if (node.children.length === 0 && !node.caveat && node.kind !== 'relation' && node.result === 'no_permission') {
      if (await opened(node.resource.type, node.resource.id, node.permission, ctx, add, 0)) return
    }
    if (node.children.length === 0 || node.caveat) {
      const a: Attempt = { relation: `${formatObject(node.resource)}#${node.permission}`, result: node.result }
      if (node.caveat) a.caveat = node.caveat
      add(a)
    }
    for (const c of node.children) await walk(c)
  }
  if (root) await walk(root)
  return out.sort((a, b) => a.relation.localeCompare(b.relation) || a.result.localeCompare(b.result))
}

/** Adds the leaves of `type:id#permission` from the schema; false when it cannot be opened (not a plain union). */
async function opened(type: string, id: string, permission: string, ctx: Ctx, add: (a: Attempt) => void, depth: number): Promise<boolean> {
  const expression = ctx.arrows?.expressionOf(type, permission)
  if (expression === undefined || depth > MAX_DEPTH || /[&()-]/.test(expression.replace(/->/g, ''))) return false
  for (const m of expression.matchAll(TERM)) {
    const [, name, target] = m as unknown as [string, string, string | undefined]
    if (!target) {
      if (ctx.arrows?.expressionOf(type, name) === undefined) add({ relation: `${type}:${id}#${name}`, result: 'no_permission' })
      else if (!(await opened(type, id, name, ctx, add, depth + 1))) add({ relation: `${type}:${id}#${name}`, result: 'no_permission' })
      continue
    }
    const linked = await ctx.engine.readRelationships({ resourceType: type, resourceId: id, relation: name }, { limit: MAX_TARGETS }, ctx.at, {
      signal: ctx.signal,
    })
    for (const r of linked.relationships) {
      const s = r.subject
      if (ctx.arrows?.expressionOf(s.type, target) === undefined) add({ relation: `${s.type}:${s.id}#${target}`, result: 'no_permission' })
      else if (!(await opened(s.type, s.id, target, ctx, add, depth + 1))) add({ relation: `${s.type}:${s.id}#${target}`, result: 'no_permission' })
    }
  }
  return true
}
