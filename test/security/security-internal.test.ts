/**
 * The gateway's own state is no caller's: relationships of a type the schema marks internal
 * (`internal_guard`, the write guards of src/domain/events/translate/guards.ts) cannot be written,
 * deleted or named in a precondition through /v1/relationships by any key, whatever its
 * scopes, nor with keys off; reading them needs `admin`. Guard ids are a hash of a person's id,
 * so an attacker can compute them: the tests use the real guards the events wrote.
 */
import t, { type Test } from 'tap'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { ev } from '../helpers/events.js'

const SCOPES = ['check', 'audit', 'write', 'events', 'platform', 'admin'] as const
const KEYS: Record<string, string> = Object.fromEntries([...SCOPES, 'full', 'ops'].map((n) => [n, `internal-${n}-0123456789abcdef`]))
// `ops`: a read of relationships needs audit, of internal ones admin too
const apiKeys = [...SCOPES.map((s) => `${s}:${KEYS[s]}:${s}`), `full:${KEYS.full}`, `ops:${KEYS.ops}:audit+admin`]
const as = (name: string | undefined) => (name ? { authorization: `Bearer ${KEYS[name]}` } : {})

/** an organization with a coach paired to a client: the events leave guards behind */
async function seeded(t: Test, keys: boolean): Promise<{ app: TestApp; guard: string }> {
  const app = await buildTestApp(t, { overrides: keys ? { apiKeys, rateLimit: { windowSeconds: 60, authFailures: 0, perKey: 0 } } : {} })
  const events = [
    ev('organization.created', { organizationId: 'acme', ownerId: 'olga' }),
    ev('organization.member_added', { organizationId: 'acme', userId: 'rob', role: 'coach' }),
    ev('client.created', { clientId: 'cassandra', organizationId: 'acme', primaryCoachId: 'rob' }),
  ]
  const res = await app.inject({ method: 'POST', url: '/v1/events', headers: as(keys ? 'full' : undefined), payload: { events } })
  t.equal(res.statusCode, 200, res.body)
  const guards = await readGuards(app, keys)
  t.ok(guards.length > 0, `the events wrote ${guards.length} guard relationships`)
  return { app, guard: guards[0]! }
}

async function readGuards(app: TestApp, keys: boolean): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: '/v1/relationships?resourceType=internal_guard', headers: as(keys ? 'ops' : undefined) })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json().relationships as string[]
}

/** every way in: writes as resource and as subject, preconditions, deletes by filter */
function attacks(guard: string): { what: string; method: 'POST' | 'DELETE'; payload: object; field: string; byType?: boolean }[] {
  const [resource, subject] = [guard.slice(0, guard.indexOf('#')), guard.slice(guard.indexOf('@') + 1)]
  const id = resource.slice(resource.indexOf(':') + 1)
  const harmless = { operation: 'touch', relationship: 'user:ana#manager@user:mia' }
  const write = (operation: string, relationship: string) => ({ updates: [harmless, { operation, relationship }] })
  const precondition = (filter: object) => ({ updates: [harmless], preconditions: [{ operation: 'must_match', filter }] })
  return [
    ...['touch', 'create', 'delete'].map((op) => ({
      what: `${op} a guard`,
      method: 'POST' as const,
      payload: write(op, guard),
      field: 'updates.1.relationship',
    })),
    {
      what: 'touch a new guard version',
      method: 'POST',
      payload: write('touch', `${resource}#version@internal_guard:forged`),
      field: 'updates.1.relationship',
    },
    { what: 'an internal type as subject', method: 'POST', payload: write('touch', `user:ana#manager@${subject}`), field: 'updates.1.relationship' },
    { what: 'a precondition on a guard', method: 'POST', payload: precondition({ resource }), field: 'preconditions.0.filter.resource' },
    {
      what: 'a precondition on the type',
      method: 'POST',
      payload: precondition({ resourceType: 'internal_guard' }),
      field: 'preconditions.0.filter.resourceType',
    },
    {
      what: 'a precondition on an internal subject',
      method: 'POST',
      payload: precondition({ resourceType: 'user', subject }),
      field: 'preconditions.0.filter.subject',
    },
    { what: 'delete a guard by resource', method: 'DELETE', payload: { filter: { resource } }, field: 'filter.resource' },
    {
      what: 'delete by type and id',
      method: 'DELETE',
      payload: { filter: { resourceType: 'internal_guard', resourceId: id, relation: 'version' } },
      field: 'filter.resourceType',
    },
    { what: 'delete every guard', method: 'DELETE', payload: { filter: { resourceType: 'internal_guard' } }, field: 'filter.resourceType', byType: true },
    { what: 'delete by internal subject', method: 'DELETE', payload: { filter: { resourceType: 'internal_guard', subject } }, field: 'filter.resourceType' },
    {
      what: 'delete a delete-filter precondition',
      method: 'DELETE',
      payload: { filter: { resource: 'user:ana' }, preconditions: [{ operation: 'must_not_match', filter: { resource } }] },
      field: 'preconditions.0.filter.resource',
    },
  ]
}

t.test('no key writes, deletes or requires an internal type, whatever its scopes', async (t) => {
  const { app, guard } = await seeded(t, true)
  const before = await readGuards(app, true)
  for (const key of [...SCOPES, 'full', 'ops']) {
    for (const a of attacks(guard)) {
      const res = await app.inject({ method: a.method, url: '/v1/relationships', headers: as(key), payload: a.payload })
      t.equal(res.statusCode, 403, `${key} key, ${a.what}: 403 (${res.body})`)
      // a key that may write meets the rule itself; the others are stopped by their scope first
      // (a delete by type alone needs admin too)
      if (key === 'full' || (key === 'write' && !a.byType))
        t.match(res.json(), { code: 'GW_INTERNAL_TYPE', field: a.field, message: /internal_guard/ }, `${key} key, ${a.what}: names ${a.field}`)
    }
  }
  t.same(await readGuards(app, true), before, 'every guard as it was')
  const mia = await app.inject({ method: 'GET', url: '/v1/relationships?resource=user:ana', headers: as('ops') })
  t.same(mia.json().relationships, [], 'and the harmless update beside them was not written either')
  const ok = await app.inject({
    method: 'POST',
    url: '/v1/relationships',
    headers: as('write'),
    payload: { updates: [{ operation: 'touch', relationship: 'user:ana#manager@user:mia' }] },
  })
  t.equal(ok.statusCode, 200, 'a write of public types still lands')
})

t.test('with keys off (full access) internal types are still refused', async (t) => {
  const { app, guard } = await seeded(t, false)
  const before = await readGuards(app, false)
  for (const a of attacks(guard)) {
    const res = await app.inject({ method: a.method, url: '/v1/relationships', payload: a.payload })
    t.equal(res.statusCode, 403, `${a.what}: 403`)
    t.match(res.json(), { code: 'GW_INTERNAL_TYPE', field: a.field }, `${a.what}: names ${a.field}`)
  }
  t.same(await readGuards(app, false), before, 'every guard as it was')
})

t.test('reading internal types needs admin', async (t) => {
  const { app, guard } = await seeded(t, true)
  const [resource, subject] = [guard.slice(0, guard.indexOf('#')), guard.slice(guard.indexOf('@') + 1)]
  const reads = [`resourceType=internal_guard`, `resource=${resource}`, `resourceType=user&subject=${subject}`]
  for (const query of reads) {
    const url = `/v1/relationships?${query}`
    const audit = await app.inject({ method: 'GET', url, headers: as('audit') })
    t.equal(audit.statusCode, 403, `${query}: an audit key is refused`)
    t.match(audit.json(), { code: 'GW_MISSING_SCOPE', message: /lacks the scope admin, needed for a read of internal_guard/, details: { required: ['admin'] } })
    for (const key of ['ops', 'full']) t.equal((await app.inject({ method: 'GET', url, headers: as(key) })).statusCode, 200, `${query}: an ${key} key reads it`)
  }
  const own = await app.inject({ method: 'GET', url: `/v1/relationships?resource=${resource}`, headers: as('ops') })
  t.same(own.json().relationships, [guard], 'audit+admin sees the guard')
  const adminOnly = await app.inject({ method: 'GET', url: `/v1/relationships?resource=${resource}`, headers: as('admin') })
  t.equal(adminOnly.json().code, 'GW_MISSING_SCOPE', 'admin alone does not read relationships (the route needs audit)')
  const pub = await app.inject({ method: 'GET', url: '/v1/relationships?resource=client:cassandra', headers: as('audit') })
  t.equal(pub.statusCode, 200, 'an audit key still reads public types')
})
