/**
 * Relationships written through the gateway survive a restart of both SpiceDB and the
 * gateway: every relationship reads back the same, and checks answer the same.
 * Runs on a real server over Postgres whenever one can be started, whatever the matrix engine.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { requirePart } from '../helpers/app.js'
import { createDatabase, remoteEnv, remoteParts, startSpiceDb } from '../helpers/engine-remote.js'

type App = Awaited<ReturnType<typeof buildApp>>

const TYPES = [...readFileSync(new URL('../../schema.zed', import.meta.url), 'utf8').matchAll(/^definition (\w+)/gm)].map((m) => m[1]!)

/** A few hundred relationships over several types, plain, with subject relations and caveated. */
function fixture(): string[] {
  const rels: string[] = []
  for (let o = 0; o < 5; o++) {
    rels.push(`organization:o${o}#owner@user:owner${o}`, `organization:o${o}#admin@user:admin${o}`)
    for (let m = 0; m < 10; m++) rels.push(`organization:o${o}#member@user:m${o}_${m}`)
  }
  for (let p = 0; p < 30; p++) {
    rels.push(
      `program:p${p}#organization@organization:o${p % 5}`,
      `program:p${p}#facilitator@user:f${p}`,
      `program:p${p}#participant@user:u${p}`,
      `program:p${p}#sponsor@user:s${p}`,
      `section:s${p}#program@program:p${p}`,
      p % 2 ? `section:s${p}#release@program:p${p}[release_time:{"release_at":"2020-01-0${1 + (p % 9)}T00:00:00Z"}]` : `section:s${p}#release@program:p${p}`,
    )
  }
  for (let u = 0; u < 20; u++) rels.push(`user:u${u}#manager@user:boss${u % 3}`)
  return rels
}

const CHECKS: [string, string, string, boolean][] = [
  ['program:p3', 'run', 'user:f3', true],
  ['program:p3', 'run', 'user:u3', false],
  ['program:p3', 'view', 'user:s3', true],
  ['program:p4', 'edit_content', 'user:admin4', true],
  ['program:p4', 'edit_content', 'user:f4', false],
  ['user:u7', 'view_learning_stats', 'user:boss1', true],
  ['user:u7', 'view_learning_stats', 'user:boss2', false],
  ['section:s2', 'view', 'user:u2', true],
  ['section:s2', 'view', 'user:u5', false],
]

async function readAll(app: App): Promise<string[]> {
  const all: string[] = []
  for (const resourceType of TYPES) {
    let cursor: string | undefined
    do {
      const res = await app.inject({ method: 'GET', url: '/v1/relationships', query: { resourceType, ...(cursor ? { cursor } : {}) } })
      if (res.statusCode !== 200) throw new Error(`GET /v1/relationships?resourceType=${resourceType}: ${res.statusCode} ${res.body}`)
      const body = res.json() as { relationships: string[]; cursor?: string }
      all.push(...body.relationships)
      cursor = body.cursor
    } while (cursor)
  }
  return all.sort()
}

async function answers(app: App): Promise<boolean[]> {
  const out: boolean[] = []
  for (const [resource, permission, subject] of CHECKS) {
    const res = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource, permission, subject } })
    if (res.statusCode !== 200) throw new Error(`check ${resource} ${permission} ${subject}: ${res.statusCode} ${res.body}`)
    out.push((res.json() as { allowed: boolean }).allowed)
  }
  return out
}

t.test('relationships written through the gateway survive a restart of SpiceDB and of the gateway', async (t) => {
  const parts = remoteParts()
  if ('missing' in parts) return void requirePart(t, parts.missing, false)
  const db = await createDatabase(parts.bin, parts.postgresUrl)
  let server = await startSpiceDb(parts.bin, db.uri)
  const build = () => buildApp({ logger: false, config: loadConfig(remoteEnv([server.endpoint], server.presharedKey)) })
  let app = await build()
  t.teardown(async () => {
    await app.close()
    await server.stop()
    await db.drop()
  })

  const written = fixture()
  for (let i = 0; i < written.length; i += 100) {
    const updates = written.slice(i, i + 100).map((relationship) => ({ operation: 'touch', relationship }))
    const res = await app.inject({ method: 'POST', url: '/v1/relationships', payload: { updates } })
    t.equal(res.statusCode, 200, `write batch ${i / 100} is accepted`, { body: res.body })
  }
  const before = await readAll(app)
  t.same(before, [...written].sort(), `all ${written.length} relationships read back before the restart`)
  const expected = CHECKS.map((c) => c[3])
  t.same(await answers(app), expected, 'checks answer as the model says before the restart')

  await app.close()
  await server.stop()
  server = await startSpiceDb(parts.bin, db.uri, server.presharedKey)
  app = await build()

  const after = await readAll(app)
  t.equal(after.length, before.length, 'as many relationships after the restart')
  t.same(after, before, 'every relationship is the same after the restart')
  t.same(await answers(app), expected, 'checks answer the same after the restart')
})
