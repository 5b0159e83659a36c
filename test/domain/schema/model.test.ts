/**
 * The model's test cases, kept as SpiceDB validation files in test/validation/, run through
 * the gateway: relationships written through it, every assertion asked of POST /v1/check.
 * An assertion's `now` is the gateway clock at the time of the check (callers cannot pass it).
 */
import t, { type Test } from 'tap'
import { readFile, realpath } from 'node:fs/promises'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildTestApp, type TestApp } from '../../helpers/app.js'
import { loadValidationFiles, type ValidationAssertion, type ValidationFile } from '../../helpers/validation-file.js'
import { loadConfig } from '../../../src/config.js'
import { parseRelationship } from '../../../src/domain/wire/refs.js'

const VALIDATION_DIR = fileURLToPath(new URL('../../validation/', import.meta.url))
const SCHEMA_PATH = fileURLToPath(new URL('../../../schema.zed', import.meta.url))
const files = await loadValidationFiles(VALIDATION_DIR)

/** Writes the file's relationships through POST /v1/relationships when the gateway has it. */
/**
 * The fixtures are written through the engine port, not POST /v1/relationships: some state on
 * purpose what the gateway's invariants refuse (client.yaml pairs an author, who is not
 * pairable, I5) to show the schema fails closed even then.
 */
async function writeRelationships(t: Test, app: TestApp, file: ValidationFile): Promise<void> {
  if (process.env.TRELLIS_MODEL_THROUGH_API === 'true' && app.hasRoute({ method: 'POST', url: '/v1/relationships' })) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/relationships',
      payload: { updates: file.relationships.map((relationship) => ({ operation: 'touch', relationship })) },
    })
    t.equal(res.statusCode, 200, 'relationships written through POST /v1/relationships', { body: res.body })
    return
  }
  await app.engine.writeRelationships(
    file.relationships.map((r, n) => ({ operation: 'touch' as const, relationship: parseRelationship(r, `relationships.${n}`) })),
  )
}

/** The check as a caller sends it: the assertion's `now` moves to the gateway clock. */
function checkRequest(a: ValidationAssertion): { payload: Record<string, unknown>; now?: Date } {
  const { now, ...context } = a.context ?? {}
  const payload: Record<string, unknown> = { resource: a.resource, permission: a.permission, subject: a.subject }
  if (Object.keys(context).length > 0) payload.context = context
  if (now === undefined) return { payload }
  const at = new Date(String(now))
  if (Number.isNaN(at.getTime())) throw new Error(`${a.text}: now is not a timestamp`)
  return { payload, now: at }
}

for (const file of files) {
  t.test(`${basename(file.path)}: every assertion holds through the gateway`, async (t) => {
    let now = new Date()
    const app = await buildTestApp(t, { clock: () => now })
    await writeRelationships(t, app, file)
    for (const a of file.assertions) {
      await t.test(`${a.expected ? 'assertTrue' : 'assertFalse'} ${a.text}`, async (t) => {
        const request = checkRequest(a)
        now = request.now ?? new Date()
        const res = await app.inject({ method: 'POST', url: '/v1/check', payload: request.payload })
        t.equal(res.statusCode, 200, 'the check is answered', { body: res.body })
        t.equal(res.json().allowed, a.expected, `${a.text} is ${a.expected ? 'allowed' : 'denied'}`)
      })
    }
  })
}

/** Public permissions of schema.zed: everything but internal ones (internal_*, pairable). */
function publicPermissions(schema: string): string[] {
  const out: string[] = []
  for (const def of schema.matchAll(/definition\s+(\w+)\s*\{([\s\S]*?)\n\}/g)) {
    for (const p of def[2]!.matchAll(/^\s*permission\s+(\w+)\s*=/gm)) {
      if (!p[1]!.startsWith('internal_') && p[1] !== 'pairable') out.push(`${def[1]}#${p[1]}`)
    }
  }
  return out
}

t.test('the validation files are consistent', async (t) => {
  // One file per area, named after the types it asserts on (user-certificate.yaml: user and
  // certificate), and every type with a public permission is the area of exactly one file.
  const schemaText = await readFile(SCHEMA_PATH, 'utf8')
  const publicTypes = [...new Set(publicPermissions(schemaText).map((p) => p.split('#')[0]!))].sort()
  const areas = files.map((f) => basename(f.path, '.yaml').split('-'))
  t.same(areas.flat().sort(), publicTypes, "the files' areas are the schema's types with public permissions, each once")
  for (const [i, file] of files.entries()) {
    const asserted = [...new Set(file.assertions.map((a) => a.resource.split(':')[0]!))].sort()
    t.same(asserted, [...areas[i]!].sort(), `${basename(file.path)} asserts on its own area's types, all of them`)
  }
  const schema = await realpath(SCHEMA_PATH)
  t.equal(await realpath(loadConfig({ ...process.env, SCHEMA_FILE: undefined }).schemaFile), schema, 'the gateway loads schema.zed')
  for (const file of files) {
    const name = basename(file.path)
    t.equal(await realpath(file.schemaPath), schema, `${name}: schemaFile resolves to schema.zed`)
    t.ok(file.relationships.length > 0, `${name}: has relationships`)
    t.ok(
      file.assertions.some((a) => a.expected),
      `${name}: has assertTrue cases`,
    )
    t.ok(
      file.assertions.some((a) => !a.expected),
      `${name}: has assertFalse cases`,
    )
    for (const r of file.relationships) t.doesNotThrow(() => parseRelationship(r, 'relationship'), `${name}: ${r} parses`)
    const asserted = new Map<string, boolean>()
    for (const a of file.assertions) {
      const key = `${a.resource}#${a.permission}@${a.subject} ${JSON.stringify(a.context ?? {})}`
      if (asserted.has(key) && asserted.get(key) !== a.expected) t.fail(`${name}: ${a.text} is asserted both true and false`)
      asserted.set(key, a.expected)
    }
  }

  // Every public permission has a case that grants it and one that does not.
  const granted = new Set<string>()
  const denied = new Set<string>()
  for (const a of files.flatMap((f) => f.assertions)) {
    const key = `${a.resource.split(':')[0]}#${a.permission}`
    ;(a.expected ? granted : denied).add(key)
  }
  const permissions = publicPermissions(schemaText)
  t.ok(permissions.length > 60, `schema.zed has its public permissions (${permissions.length})`)
  for (const p of permissions) {
    t.ok(granted.has(p), `${p} has an assertTrue case`)
    t.ok(denied.has(p), `${p} has an assertFalse case`)
  }
})
