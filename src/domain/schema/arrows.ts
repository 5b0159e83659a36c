/**
 * Which relation an arrow (`organization->can_view_all_clients`) walks, read from the schema.
 *
 * SpiceDB's expand answers an arrow with a node that repeats the permission being computed
 * (`client:c1#view`) and has the targets (`organization:acme#can_view_all_clients`) as its
 * children: the relationship that links them (`client:c1#organization@organization:acme`) is
 * not in the answer. An auditor needs that link, since the access depends on it, so the
 * gateway names the arrow's relation from the schema in force. When the schema leaves it
 * ambiguous (two arrows in one permission reaching the same permission on the same type), the
 * answer is undefined and the tree keeps SpiceDB's shape rather than guess.
 */

import { readSchema } from './model.js'

const IDENT = '[a-z_][a-z0-9_]*'

export interface Arrow {
  /** the relation on the resource that names the objects (`organization`) */
  tupleset: string
  /** the permission or relation followed on those objects (`can_view_all_clients`) */
  target: string
}

export interface SchemaArrows {
  /**
   * The relation an arrow inside `type#permission` walks to reach `targetRelation` on an
   * object of `targetType`; either may be left out (an arrow that found no object). Undefined
   * when no arrow or more than one relation fits.
   */
  tuplesetOf(type: string, permission: string, targetType?: string, targetRelation?: string): string | undefined
  /** the expression of `type#permission` as the schema writes it, whitespace collapsed (why-not says what would grant it) */
  expressionOf(type: string, permission: string): string | undefined
}

export function schemaArrows(schemaText: string): SchemaArrows {
  const model = readSchema(schemaText)
  /** "type#permission" -> the arrows in its expression */
  const arrows = new Map<string, Arrow[]>()
  /** "type#relation" -> the object types it may name */
  const subjectTypes = new Map<string, Set<string>>()
  /** "type#permission" -> its expression, as written */
  const expressions = new Map<string, string>()
  for (const def of model.definitions.values()) {
    // a relation with an alternative the reader did not parse may name any type
    for (const rel of def.relations) if (!rel.unknown.length) subjectTypes.set(`${def.name}#${rel.name}`, new Set(rel.subjects.map((a) => a.type)))
    for (const perm of def.permissions) {
      arrows.set(`${def.name}#${perm.name}`, arrowsIn(perm.expression))
      expressions.set(`${def.name}#${perm.name}`, perm.expression)
    }
  }

  return {
    tuplesetOf(type, permission, targetType, targetRelation) {
      const fits = (arrows.get(`${type}#${permission}`) ?? []).filter((a) => {
        if (targetRelation !== undefined && a.target !== targetRelation) return false
        const names = subjectTypes.get(`${type}#${a.tupleset}`)
        return targetType === undefined || !names || names.has(targetType)
      })
      const relations = new Set(fits.map((a) => a.tupleset))
      return relations.size === 1 ? [...relations][0] : undefined
    },
    expressionOf: (type, permission) => expressions.get(`${type}#${permission}`),
  }
}

/** The arrows (`organization->admin`, `members.any(view)`) in a permission expression. */
export function arrowsIn(expression: string): Arrow[] {
  const term = new RegExp(`(${IDENT})\\s*(?:->\\s*(${IDENT})|\\.(?:any|all)\\(\\s*(${IDENT})\\s*\\))`, 'g')
  return [...expression.matchAll(term)].map((m) => ({ tupleset: m[1]!, target: (m[2] ?? m[3])! }))
}
