/**
 * What deletions need to know about the schema in force: the relations of each type, and
 * where each type may appear as a subject (`organization#program@program:p1`,
 * `section#release@program:p1`), so "remove everything that points at it" (I7) follows the
 * schema instead of a hand-kept list.
 */
import { readSchema } from './model.js'

export interface SubjectUse {
  resourceType: string
  relation: string
}

export interface SchemaIndex {
  relationsOf(type: string): string[]
  usesOf(subjectType: string): SubjectUse[]
}

export function indexSchema(schemaText: string): SchemaIndex {
  const model = readSchema(schemaText)
  const relations = new Map<string, string[]>()
  const uses = new Map<string, SubjectUse[]>()
  for (const def of model.definitions.values()) {
    relations.set(
      def.name,
      def.relations.map((r) => r.name),
    )
    for (const relation of def.relations) {
      for (const subjectType of new Set(relation.subjects.map((a) => a.type))) {
        const list = uses.get(subjectType) ?? []
        list.push({ resourceType: def.name, relation: relation.name })
        uses.set(subjectType, list)
      }
    }
  }
  return {
    relationsOf: (type) => relations.get(type) ?? [],
    usesOf: (type) => uses.get(type) ?? [],
  }
}
