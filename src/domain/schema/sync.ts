/**
 * Loads schema.zed and writes it to the engine when what the engine holds differs.
 * A schema that does not compile stops the start with SpiceDB's own message.
 */
import { readFile } from 'node:fs/promises'
import { EngineError, type EnginePort } from '../../engine/port.js'
import { printAlternative, readSchema } from './model.js'

export class SchemaError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SchemaError'
  }
}

/**
 * SpiceDB stores the schema it compiled and echoes it back regenerated: definitions sorted,
 * doc comments re-flowed, and parentheses dropped where its precedence makes them redundant
 * (`a & (b + c)` comes back as `a & b + c`). Texts are compared without comments, spacing
 * or block order, and with each permission expression parsed by SpiceDB's precedence and
 * printed fully parenthesised, so only a change of meaning counts as a difference.
 */
export function canonicalSchema(text: string): string {
  const model = readSchema(text)
  const blocks = [...model.directives]
  for (const c of model.caveats.values()) {
    blocks.push(`caveat ${c.name}(${[...c.params].map(([n, t]) => `${n} ${t}`).join(', ')}) { ${c.expression} }`)
  }
  for (const d of model.definitions.values()) {
    const lines = [
      ...d.relations.map((r) => `relation ${r.name}: ${[...r.subjects.map(printAlternative), ...r.unknown].join(' | ')}`),
      ...d.permissions.map((p) => `permission ${p.name} = ${canonicalExpression(p.expression)}`),
      ...d.unknown,
    ]
    blocks.push(`definition ${d.name} {\n${lines.join('\n')}\n}`)
  }
  return blocks.sort().join('\n')
}

// SpiceDB's parser (pkg/schemadsl/parser, ComputeExpressionOperators): `-` binds loosest,
// then `&`, then `+`; each is left-associative.
const LEVELS = ['-', '&', '+'] as const
type Expr = string | { op: string; args: Expr[] }

export function canonicalExpression(expr: string): string {
  const tokens = expr.match(/[A-Za-z_][\w]*(?:->\w+|\.(?:any|all)\(\w+\))?|[()+&-]/g) ?? []
  let i = 0
  const parse = (level: number): Expr => {
    if (level === LEVELS.length) {
      const t = tokens[i++]
      if (t === '(') {
        const inner = parse(0)
        if (tokens[i++] !== ')') throw new Error('unbalanced')
        return inner
      }
      if (!t || '()+&-'.includes(t)) throw new Error('operand expected')
      return t
    }
    const op = LEVELS[level]!
    let left = parse(level + 1)
    while (tokens[i] === op) {
      i++
      const right = parse(level + 1)
      // union and intersection are associative: a + (b + c) means (a + b) + c
      const flat = (e: Expr) => (op !== '-' && typeof e !== 'string' && e.op === op ? e.args : [e])
      left = { op, args: [...flat(left), ...flat(right)] }
    }
    return left
  }
  const print = (e: Expr): string => (typeof e === 'string' ? e : `(${e.args.map(print).join(` ${e.op} `)})`)
  try {
    const tree = parse(0)
    if (i !== tokens.length || tokens.join('') !== expr.replace(/\s+/g, '')) throw new Error('trailing input')
    return print(tree)
  } catch {
    return expr // not understood: compared as written, so a doubt means a rewrite
  }
}

export async function readSchemaFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new SchemaError(`cannot read schema file ${path}: ${(err as Error).message}`)
  }
}

/** Returns whether the engine's schema was (re)written. */
export async function syncSchema(engine: EnginePort, schema: string): Promise<boolean> {
  const current = await engine.readSchema()
  if (current !== undefined && canonicalSchema(current) === canonicalSchema(schema)) return false
  try {
    await engine.writeSchema(schema)
  } catch (err) {
    if (err instanceof EngineError && (err.kind === 'invalid_argument' || err.kind === 'failed_precondition')) {
      throw new SchemaError(`schema.zed was refused by SpiceDB: ${err.message}`)
    }
    throw err
  }
  return true
}
