/**
 * The one reader of schema text. Every part of the gateway that needs a fact about the model
 * (which relations a type has, where a type may be a subject, which permissions are public,
 * what an arrow walks, which caveats exist and their parameters, whether two texts mean the
 * same) asks the model this module builds, read once per text.
 *
 * SpiceDB compiles the schema and is the judge of what it means; this reader only needs the
 * shape the gateway reasons about. What it does not understand is kept as `unknown` so each
 * consumer can be conservative (caveat-reach keeps `now`, schema-sync rewrites). A test holds
 * it to SpiceDB's own reading of schema.zed (test/domain/schema/schema-model.test.ts).
 */

export interface SubjectAlternative {
  /** the subject's object type (`user`, `organization`) */
  type: string
  /** `user:*` */
  wildcard: boolean
  /** `group#member`: a subject set */
  relation?: string
  /** `with` traits: caveat names, and `expiration` */
  traits: string[]
}

export interface RelationDef {
  name: string
  subjects: SubjectAlternative[]
  /** alternatives this reader could not parse (counted as anything) */
  unknown: string[]
}

export interface PermissionDef {
  name: string
  /** the expression as written, whitespace collapsed */
  expression: string
}

export interface Definition {
  name: string
  relations: RelationDef[]
  permissions: PermissionDef[]
  /** statements inside the definition this reader does not know */
  unknown: string[]
}

export interface CaveatDef {
  name: string
  /** parameter name -> CEL type, spaces removed (`map<string,int>`) */
  params: Map<string, string>
  /** the CEL expression, whitespace collapsed */
  expression: string
}

export interface SchemaModel {
  definitions: Map<string, Definition>
  caveats: Map<string, CaveatDef>
  /** top-level statements other than definitions and caveats (`use expiration`) */
  directives: string[]
  relation(type: string, name: string): RelationDef | undefined
  permission(type: string, name: string): PermissionDef | undefined
}

const IDENT = '[a-z_][a-z0-9_]*'
const TYPE = `${IDENT}(?:/${IDENT})?`
const ALTERNATIVE = new RegExp(`^(${TYPE})(:\\*|#(${IDENT}))?(?:\\s+with\\s+([\\s\\S]+))?$`)
const RELATION = new RegExp(`^relation\\s+(${IDENT})\\s*:([\\s\\S]+)$`)
const PERMISSION = new RegExp(`^permission\\s+(${IDENT})\\s*=([\\s\\S]+)$`)

const squash = (s: string) => s.replace(/\s+/g, ' ').trim()
const stripComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')

/** The index of the brace that closes the one at `open`. */
function closing(text: string, open: number): number {
  let depth = 0
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++
    else if (text[i] === '}' && --depth === 0) return i
  }
  return text.length
}

/** Splits on commas outside angle brackets (`map<string, int>`). */
export function splitParams(list: string): string[] {
  const out: string[] = []
  let depth = 0
  let cur = ''
  for (const ch of list) {
    if (ch === '<') depth++
    if (ch === '>') depth--
    if (ch === ',' && depth === 0) {
      out.push(cur)
      cur = ''
    } else cur += ch
  }
  if (cur.trim()) out.push(cur)
  return out
}

function readDefinition(name: string, body: string): Definition {
  const def: Definition = { name, relations: [], permissions: [], unknown: [] }
  for (const raw of body.split(/(?=\b(?:relation|permission)\s)/)) {
    const stmt = raw.trim()
    if (!stmt) continue
    const rel = RELATION.exec(stmt)
    const perm = PERMISSION.exec(stmt)
    if (rel) {
      const relation: RelationDef = { name: rel[1]!, subjects: [], unknown: [] }
      for (const alt of rel[2]!.split('|').map(squash)) {
        const m = ALTERNATIVE.exec(alt)
        if (!m) {
          relation.unknown.push(alt)
          continue
        }
        const traits = (m[4] ?? '')
          .split(/\s+and\s+/)
          .map((t) => t.trim())
          .filter(Boolean)
        relation.subjects.push({ type: m[1]!, wildcard: m[2] === ':*', ...(m[3] ? { relation: m[3] } : {}), traits })
      }
      def.relations.push(relation)
    } else if (perm) {
      def.permissions.push({ name: perm[1]!, expression: squash(perm[2]!) })
    } else {
      def.unknown.push(squash(stmt))
    }
  }
  return def
}

function parse(schemaText: string): SchemaModel {
  const text = stripComments(schemaText)
  const definitions = new Map<string, Definition>()
  const caveats = new Map<string, CaveatDef>()
  const directives: string[] = []
  const head = new RegExp(`\\b(definition)\\s+(${TYPE})\\s*\\{|\\b(caveat)\\s+(${TYPE})\\s*\\(([^)]*)\\)\\s*\\{`, 'g')
  let last = 0
  for (let m = head.exec(text); m; m = head.exec(text)) {
    directives.push(...text.slice(last, m.index).split('\n').map(squash).filter(Boolean))
    const open = m.index + m[0].length - 1
    const end = closing(text, open)
    const body = text.slice(open + 1, end)
    if (m[1]) definitions.set(m[2]!, readDefinition(m[2]!, body))
    else {
      const params = new Map<string, string>()
      for (const decl of splitParams(m[5]!)) {
        const p = new RegExp(`^(${IDENT})\\s+(.+)$`, 'i').exec(decl.trim())
        if (p) params.set(p[1]!, p[2]!.replace(/\s+/g, ''))
      }
      caveats.set(m[4]!, { name: m[4]!, params, expression: squash(body) })
    }
    last = end + 1
    head.lastIndex = last
  }
  directives.push(...text.slice(last).split('\n').map(squash).filter(Boolean))
  return {
    definitions,
    caveats,
    directives,
    relation: (type, name) => definitions.get(type)?.relations.find((r) => r.name === name),
    permission: (type, name) => definitions.get(type)?.permissions.find((p) => p.name === name),
  }
}

const read = new Map<string, SchemaModel>()

/** The model of this schema text, read once (a process holds one or two texts). */
export function readSchema(schemaText: string): SchemaModel {
  let model = read.get(schemaText)
  if (!model) {
    model = parse(schemaText)
    if (read.size > 16) read.clear()
    read.set(schemaText, model)
  }
  return model
}

/** `user | group#member | program with release_time`, as SpiceDB prints alternatives */
export const printAlternative = (a: SubjectAlternative) =>
  `${a.type}${a.wildcard ? ':*' : a.relation ? `#${a.relation}` : ''}${a.traits.length ? ` with ${a.traits.join(' and ')}` : ''}`
