/**
 * Reads SpiceDB validation files (the YAML `zed validate` reads) so the model's test cases can
 * be run through the gateway as well: `schemaFile`, `relationships` (one per line) and
 * `assertions` (`assertTrue` / `assertFalse` lists of `resource#permission@subject`, each with
 * an optional ` with {json context}`).
 */
import { readFile, readdir } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { parse } from 'yaml'

export interface ValidationAssertion {
  /** the assertion as written in the file */
  text: string
  expected: boolean
  resource: string
  permission: string
  subject: string
  /** the caveat context the assertion is checked with, if any (may hold `now`) */
  context?: Record<string, unknown>
}

export interface ValidationFile {
  path: string
  /** `schemaFile` as written */
  schemaFile: string
  /** `schemaFile` resolved against the validation file's directory */
  schemaPath: string
  relationships: string[]
  assertions: ValidationAssertion[]
}

const ASSERTION_RE = /^([^#\s]+)#([a-z][a-z0-9_]*)@(\S+?)(?:\s+with\s+(\{.*\}))?$/

export function parseAssertion(text: string, expected: boolean): ValidationAssertion {
  const m = ASSERTION_RE.exec(text.trim())
  if (!m) throw new Error(`not an assertion resource#permission@subject [with {context}]: ${text}`)
  const a: ValidationAssertion = { text: text.trim(), expected, resource: m[1]!, permission: m[2]!, subject: m[3]! }
  if (m[4]) {
    const context: unknown = JSON.parse(m[4])
    if (typeof context !== 'object' || context === null || Array.isArray(context)) {
      throw new Error(`assertion context is not a JSON object: ${text}`)
    }
    a.context = context as Record<string, unknown>
  }
  return a
}

function stringList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new Error(`${what} must be a list of strings`)
  return value as string[]
}

export function parseValidationFile(text: string, path: string): ValidationFile {
  const doc: unknown = parse(text)
  if (typeof doc !== 'object' || doc === null) throw new Error(`${path}: not a YAML mapping`)
  const { schemaFile, relationships, assertions } = doc as Record<string, unknown>
  if (typeof schemaFile !== 'string') throw new Error(`${path}: schemaFile is required`)
  if (typeof relationships !== 'string') throw new Error(`${path}: relationships must be a block of lines`)
  const lists = (assertions ?? {}) as Record<string, unknown>
  return {
    path,
    schemaFile,
    schemaPath: resolve(dirname(path), schemaFile),
    // zed skips blank lines and `//` comments in the relationships block
    relationships: relationships
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('//')),
    assertions: [
      ...stringList(lists.assertTrue, `${path}: assertTrue`).map((a) => parseAssertion(a, true)),
      ...stringList(lists.assertFalse, `${path}: assertFalse`).map((a) => parseAssertion(a, false)),
    ],
  }
}

export async function loadValidationFile(path: string): Promise<ValidationFile> {
  return parseValidationFile(await readFile(path, 'utf8'), path)
}

/** Every `*.yaml` file of a directory, in name order. */
export async function loadValidationFiles(dir: string): Promise<ValidationFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort()
  return Promise.all(names.map((n) => loadValidationFile(join(dir, n))))
}
