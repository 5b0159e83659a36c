/**
 * The API document as code generators read it (openapi-python-client, openapi-generator,
 * openapi-typescript): one enum per closed set of values, every error code in one enum, one
 * named model per event type, an SPDX license, and the retry-after header that 503s carry.
 * scripts/python-client.sh runs a real generator on it in CI.
 */
import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildTestApp } from '../helpers/app.js'
import { seed } from '../helpers/http.js'
import { ERROR_CODE_LIST } from '../../src/domain/wire/error-codes.js'
import { EVENT_TYPES } from '../../src/domain/events/contract/schemas.js'

async function* sources(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* sources(path)
    else if (entry.name.endsWith('.ts')) yield path
  }
}

t.test('every GW_ code written in src/ is in the catalogue the ErrorCode enum is built from', async (t) => {
  const known = new Set<string>(ERROR_CODE_LIST)
  const unknown: string[] = []
  let seen = 0
  for await (const file of sources(new URL('../../src', import.meta.url).pathname)) {
    for (const [code] of (await readFile(file, 'utf8')).matchAll(/\bGW_[A-Z0-9_]*[A-Z0-9]\b/g)) {
      seen++
      if (!known.has(code)) unknown.push(`${code} (${file})`)
    }
  }
  t.ok(seen > 50, `found ${seen} codes`)
  t.same(unknown, [], 'add each to src/domain/wire/error-codes.ts')
})

t.test('the document is made for generators', async (t) => {
  const app = await buildTestApp(t)
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  const schemas = doc.components.schemas
  t.same(schemas.ErrorCode.enum, ERROR_CODE_LIST, 'an enum of every error code')
  t.same(schemas.ErrorResponse.properties.code, { $ref: '#/components/schemas/ErrorCode' })
  t.same(schemas.Permissionship, { ...schemas.Permissionship, type: 'string', enum: ['has_permission', 'no_permission', 'conditional'] })
  t.ok(doc.info.license.identifier, 'license.identifier (openapi-generator refuses the document without it)')

  const union = schemas.DomainEvent
  t.equal(union.oneOf.length, EVENT_TYPES.length, 'one named schema per event type')
  t.equal(union.discriminator.propertyName, 'type')
  for (const type of EVENT_TYPES) {
    const ref: string = union.discriminator.mapping[type]
    const name = ref.replace('#/components/schemas/', '')
    const tag = schemas[name]?.properties?.type
    t.same(tag?.const ?? tag?.enum, tag?.const ? type : [type], `${type} is ${name}`)
  }

  // no anyOf of one-value enums left anywhere: each becomes a class per value in generators
  const oneValueUnions: string[] = []
  const walk = (node: unknown, path: string) => {
    if (!node || typeof node !== 'object') return
    const n = node as Record<string, unknown>
    if (
      Array.isArray(n.anyOf) &&
      n.anyOf.every((s) => (s as { enum?: unknown[]; const?: unknown }).const !== undefined || (s as { enum?: unknown[] }).enum?.length === 1)
    )
      oneValueUnions.push(path)
    for (const [k, v] of Object.entries(n)) walk(v, `${path}/${k}`)
  }
  walk(doc, '#')
  t.same(oneValueUnions, [])

  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { responses?: Record<string, { headers?: object }> }>>)) {
    for (const [method, op] of Object.entries(item)) {
      const r503 = op.responses?.['503']
      if (r503) t.ok(r503.headers && 'retry-after' in r503.headers, `${method} ${path}: 503 documents retry-after`)
    }
  }
})

t.test('a 503 answer carries retry-after', async (t) => {
  const app = await buildTestApp(t)
  await seed(app, ['program:p1#facilitator@user:ana'])
  await app.engine.close()
  const res = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource: 'program:p1', permission: 'run', subject: 'user:ana' } })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.headers['retry-after'], '1')
})
