/**
 * The gateway's `now` goes only with checks whose permission can reach a caveat: section
 * release still follows the gateway clock, and a client check reaches SpiceDB with no context
 * (a fresh `now` per check would make every check a distinct request to SpiceDB's caches).
 *
 * What reaches the engine is observed by a counting wrapper around the real engine of the run
 * (embedded, or a real SpiceDB server with TRELLIS_TEST_ENGINE=remote).
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import type { Test } from 'tap'
import { loadConfig } from '../../../src/config.js'
import { createEngine, type CheckItem, type EnginePort } from '../../../src/engine/index.js'
import { caveatReach } from '../../../src/domain/schema/caveat-reach.js'
import { buildTestApp, requirePart, testEngine } from '../../helpers/app.js'
import { remoteParts, startRemoteEngine } from '../../helpers/engine-remote.js'
import { apply, can, ev, seedOrg } from '../../helpers/events.js'

async function realEngine(t: Test): Promise<EnginePort | undefined> {
  const env: Record<string, string | undefined> = {}
  if (testEngine() === 'remote') {
    const parts = remoteParts()
    if (!requirePart(t, 'spicedb binary and Postgres', !('missing' in parts))) return undefined
    const server = await startRemoteEngine()
    t.teardown(() => server.close())
    Object.assign(env, {
      SPICEDB_ENDPOINT: server.endpoints.join(','),
      SPICEDB_PRESHARED_KEY: server.presharedKey,
      SPICEDB_INSECURE: 'true',
      EVENTS_ALLOW_VOLATILE_IDEMPOTENCY: 'true',
    })
  }
  const engine = await createEngine(loadConfig(env))
  t.teardown(() => engine.close())
  return engine
}

/** The real engine, recording every check item that reaches it. */
function counting(engine: EnginePort) {
  const seen: CheckItem[] = []
  const wrapped = new Proxy(engine, {
    get(target, prop, receiver) {
      if (prop === 'check') {
        return (items: CheckItem[], c: Parameters<EnginePort['check']>[1]) => {
          seen.push(...items)
          return target.check(items, c)
        }
      }
      const v = Reflect.get(target, prop, receiver) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
  return { wrapped, seen }
}

t.test('section release follows the gateway clock; other checks send no context', async (t) => {
  const engine = await realEngine(t)
  if (!engine) return
  const { wrapped, seen } = counting(engine)
  let now = new Date('2029-06-01T00:00:00Z')
  const app = await buildTestApp(t, { engine: wrapped, clock: () => now })
  await seedOrg(t, app)
  await apply(
    t,
    app,
    ev('program.created', { programId: 'p1', organizationId: 'acme' }),
    ev('program.role_assigned', { programId: 'p1', userId: 'pat', role: 'participant' }),
    ev('section.created', { sectionId: 's1', programId: 'p1', releaseAt: '2030-01-01T00:00:00Z' }),
    ev('client.created', { clientId: 'c1', organizationId: 'acme', primaryCoachId: 'rob', userId: 'cass' }),
  )

  seen.length = 0
  t.notOk(await can(app, 'section:s1', 'view', 'user:pat'), 'locked before its release time')
  now = new Date('2030-01-01T00:00:01Z')
  t.ok(await can(app, 'section:s1', 'view', 'user:pat'), 'open once the gateway clock passes it')
  t.equal(seen.length, 2)
  t.same(
    seen.map((i) => i.context?.now),
    ['2029-06-01T00:00:00.000Z', '2030-01-01T00:00:01.000Z'],
    'section checks carry the gateway clock',
  )

  seen.length = 0
  t.ok(await can(app, 'client:c1', 'view', 'user:rob'), 'the primary coach sees the client')
  t.notOk(await can(app, 'client:c1', 'view', 'user:pat'))
  t.ok(await can(app, 'organization:acme', 'administer', 'user:adam'))
  t.equal(seen.length, 3)
  t.same(
    seen.map((i) => i.context),
    [undefined, undefined, undefined],
    'checks that cannot reach a caveat reach SpiceDB with no context',
  )

  // Bulk: the same split per item.
  seen.length = 0
  const res = await app.inject({
    method: 'POST',
    url: '/v1/check/bulk',
    payload: {
      items: [
        { resource: 'client:c1', permission: 'view', subject: 'user:rob' },
        { resource: 'section:s1', permission: 'view', subject: 'user:pat' },
      ],
    },
  })
  t.equal(res.statusCode, 200, res.body)
  t.same(
    res.json().results.map((r: { allowed: boolean }) => r.allowed),
    [true, true],
  )
  t.same(
    seen.map((i) => i.context?.now ?? null),
    [null, '2030-01-01T00:00:01.000Z'],
  )
})

t.test('the schema reading: only what can reach release_time needs `now`; the unknown keeps it', async (t) => {
  const reach = caveatReach(readFileSync(new URL('../../../schema.zed', import.meta.url), 'utf8'))
  t.ok(reach.needsContext('section', 'view'))
  t.ok(reach.needsContext('section', 'release'), 'the caveated relation itself')
  t.notOk(reach.needsContext('section', 'program'))
  t.notOk(reach.needsContext('client', 'view'))
  t.notOk(reach.needsContext('program', 'view_locked_content'))
  t.notOk(reach.needsContext('organization', 'administer'))
  t.ok(reach.needsContext('client', 'no_such_permission'), 'unknown names keep `now`')
  t.ok(reach.needsContext('no_such_type', 'view'))

  const chained = caveatReach(`
    caveat c(now timestamp) { now > now }
    definition user {}
    definition folder { relation viewer: user | user with c
      permission view = viewer }
    definition doc {
      relation parent: folder
      relation owner: user with expiration
      permission read = parent->view + owner
      permission own = owner
      permission odd = parent.any(view)
    }`)
  t.ok(chained.needsContext('doc', 'read'), 'through an arrow to a caveated relation')
  t.ok(chained.needsContext('doc', 'odd'), 'through .any()')
  t.notOk(chained.needsContext('doc', 'own'), 'expiration is not a caveat')
})
