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

const IDENT = '[a-z_][a-z0-9_]*'
const TYPE = `${IDENT}(?:/${IDENT})?`

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
  const text = schemaText.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
  /** "type#permission" -> the arrows in its expression */
  const arrows = new Map<string, Arrow[]>()
  /** "type#relation" -> the object types it may name */
  const subjectTypes = new Map<string, Set<string>>()
  const expressions = new Map<string, string>()

  for (const def of text.matchAll(new RegExp(`\\bdefinition\\s+(${TYPE})\\s*\\{([^}]*)\\}`, 'g'))) {
    const type = def[1]!
    for (const stmt of def[2]!.split(/(?=\b(?:relation|permission)\s)/)) {
      const rel = new RegExp(`^\\s*relation\\s+(${IDENT})\\s*:([\\s\\S]+)$`).exec(stmt)
      const perm = new RegExp(`^\\s*permission\\s+(${IDENT})\\s*=([\\s\\S]+)$`).exec(stmt)
      if (rel) {
        const types = rel[2]!.split('|').map((alt) => new RegExp(`^\\s*(${TYPE})`).exec(alt)?.[1])
        subjectTypes.set(`${type}#${rel[1]}`, new Set(types.filter((t): t is string => !!t)))
      } else if (perm) {
        const found: Arrow[] = []
        const term = new RegExp(`(${IDENT})\\s*(?:->\\s*(${IDENT})|\\.(?:any|all)\\(\\s*(${IDENT})\\s*\\))`, 'g')
        for (const m of perm[2]!.matchAll(term)) found.push({ tupleset: m[1]!, target: (m[2] ?? m[3])! })
        arrows.set(`${type}#${perm[1]}`, found)
        expressions.set(`${type}#${perm[1]}`, perm[2]!.replace(/\s+/g, ' ').trim())
      }
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
