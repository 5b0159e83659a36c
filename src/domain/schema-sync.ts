/**
 * Loads schema.zed and writes it to the engine when what the engine holds differs.
 * A schema that does not compile stops the start with SpiceDB's own message.
 */
import { readFile } from 'node:fs/promises'
import { EngineError, type EnginePort } from '../engine/port.js'

export class SchemaError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SchemaError'
  }
}

/**
 * SpiceDB stores the schema it compiled and echoes it back with definitions sorted and doc
 * comments re-flowed, so texts are compared without comments, spacing or block order.
 */
export function canonicalSchema(text: string): string {
  const lines = text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter(Boolean)
    .join('\n')
  return lines
    .split(/\n(?=(?:definition|caveat) )/)
    .sort()
    .join('\n')
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
