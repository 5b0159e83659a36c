/**
 * What deletions need to know about the schema in force: the relations of each type, and
 * where each type may appear as a subject (`organization#program@program:p1`,
 * `section#release@program:p1`), so "remove everything that points at it" (I7) follows the
 * schema instead of a hand-kept list.
 */

export interface SubjectUse {
  resourceType: string
  relation: string
}

export interface SchemaIndex {
  relationsOf(type: string): string[]
  usesOf(subjectType: string): SubjectUse[]
}

const DEFINITION = /^\s*definition\s+([a-z][a-z0-9_/]*)\s*\{/
const RELATION = /^\s*relation\s+([a-z][a-z0-9_]*)\s*:\s*(.+?)\s*$/

export function indexSchema(schemaText: string): SchemaIndex {
  const relations = new Map<string, string[]>()
  const uses = new Map<string, SubjectUse[]>()
  let current: string | undefined
  for (const line of schemaText.replace(/\/\*[\s\S]*?\*\//g, '').split('\n')) {
    const def = DEFINITION.exec(line)
    if (def) {
      current = def[1]!
      relations.set(current, [])
      continue
    }
    const rel = RELATION.exec(line.replace(/\/\/.*$/, ''))
    if (!rel || !current) continue
    relations.get(current)!.push(rel[1]!)
    const subjectTypes = new Set(rel[2]!.split('|').map((alt) => alt.trim().split(/[\s#:]/)[0]!))
    for (const subjectType of subjectTypes) {
      const list = uses.get(subjectType) ?? []
      list.push({ resourceType: current, relation: rel[1]! })
      uses.set(subjectType, list)
    }
  }
  return {
    relationsOf: (type) => relations.get(type) ?? [],
    usesOf: (type) => uses.get(type) ?? [],
  }
}
