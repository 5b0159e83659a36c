/**
 * Which (resource type, permission) pairs can reach a caveat, read from the schema in force,
 * so the gateway's `now` goes only with the checks that can use it.
 *
 * The gateway adds `now` to every check's context (withGatewayContext) so section release
 * times are judged by its clock. But a context that changes every request makes each check a
 * distinct request to SpiceDB: its dispatch cache keys and bulk de-duplication include the
 * context. A check whose permission cannot reach a caveated relation never reads the context,
 * so dropping `now` there changes no answer and lets SpiceDB reuse its work.
 *
 * The reading is conservative: anything not understood (an unknown type or name, a syntax
 * this small reader does not know) counts as reaching a caveat, so `now` is kept.
 */
import type { CheckItem, Consistency, EnginePort } from '../../engine/port.js'
import { EngineLayer } from '../../engine/layer.js'
import { readSchema } from './model.js'

export interface CaveatReach {
  /** true when the permission (or relation) on this type can depend on caveat context */
  needsContext(resourceType: string, permission: string): boolean
}

const IDENT = '[a-z_][a-z0-9_]*'
const TERM = new RegExp(`^(${IDENT})(?:->(${IDENT})|\\.(?:any|all)\\((${IDENT})\\))?$`)

export function caveatReach(schemaText: string): CaveatReach {
  const model = readSchema(schemaText)
  /** node "type#name" -> the nodes it depends on; a node in `reaches` needs context */
  const deps = new Map<string, string[]>()
  const reaches = new Set<string>()
  /** relation "type#name" -> subject types of its plain (non-#relation) alternatives */
  const subjectTypes = new Map<string, string[]>()
  const permissions: { node: string; type: string; expr: string }[] = []

  for (const def of model.definitions.values()) {
    const type = def.name
    for (const rel of def.relations) {
      const node = `${type}#${rel.name}`
      if (rel.unknown.length) reaches.add(node)
      // a caveat, or a trait this reader does not know; expiration needs no context
      if (rel.subjects.some((a) => a.traits.some((t) => t !== 'expiration'))) reaches.add(node)
      deps.set(
        node,
        rel.subjects.filter((a) => a.relation).map((a) => `${a.type}#${a.relation}`),
      )
      subjectTypes.set(
        node,
        rel.subjects.filter((a) => !a.relation).map((a) => a.type),
      )
    }
    for (const perm of def.permissions) permissions.push({ node: `${type}#${perm.name}`, type, expr: perm.expression })
    // something this reader does not know inside a definition: keep `now` for the type
    if (def.unknown.length) reaches.add(`${type}#*`)
  }
  for (const { node, type, expr } of permissions) {
    const d: string[] = []
    for (const term of expr
      .replace(/[()+&]|-(?!>)/g, ' ')
      .split(/\s+/)
      .filter(Boolean)) {
      if (term === 'nil') continue
      const m = TERM.exec(term)
      if (!m) {
        reaches.add(node)
        continue
      }
      const base = `${type}#${m[1]}`
      d.push(base)
      const arrow = m[2] ?? m[3]
      if (arrow) {
        for (const s of subjectTypes.get(base) ?? []) d.push(`${s}#${arrow}`)
        if (!subjectTypes.has(base)) reaches.add(node) // an arrow over a permission or an unknown name
      }
    }
    deps.set(node, d)
  }
  // Unknown targets reach (conservatively); then propagate until nothing changes.
  for (const d of deps.values()) for (const n of d) if (!deps.has(n)) reaches.add(n)
  for (let changed = true; changed;) {
    changed = false
    for (const [node, d] of deps) {
      if (!reaches.has(node) && d.some((n) => reaches.has(n))) {
        reaches.add(node)
        changed = true
      }
    }
  }
  return {
    needsContext: (type, name) => {
      const node = `${type}#${name}`
      return !deps.has(node) || reaches.has(node) || reaches.has(`${type}#*`)
    },
  }
}

/** The item without the gateway's `now` when its permission cannot reach a caveat. */
export function withoutUnusedNow(item: CheckItem, reach: CaveatReach): CheckItem {
  if (!item.context || !('now' in item.context)) return item
  if (reach.needsContext(item.resource.type, item.permission)) return item
  const { now: _now, ...rest } = item.context
  return { ...item, context: Object.keys(rest).length ? rest : undefined }
}

/** The engine layer whose checks send `now` only where the schema can use it. */
export class NowOnlyWhereNeeded extends EngineLayer {
  constructor(
    next: EnginePort,
    private readonly reach: CaveatReach,
  ) {
    super(next)
  }

  override check(items: CheckItem[], consistency: Consistency) {
    return this.next.check(
      items.map((i) => withoutUnusedNow(i, this.reach)),
      consistency,
    )
  }
}
