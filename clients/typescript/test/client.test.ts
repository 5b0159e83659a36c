/**
 * The client against a real gateway: events in (retried safely), checks out (coalesced into
 * bulk calls), lookups paged by cursor, typed errors, backoff as retry-after says, and
 * consistency tokens passed through.
 */
import t from 'tap'
import { TrellisClient, TrellisError, freshAs, isTrellisError, type DomainEvent } from '../dist/index.js'
import { FIRST_HOUR_EVENTS } from '../../../src/domain/events/contract/examples.js'
import { KEY, startGateway, startProxy } from './gateway.js'

const business = FIRST_HOUR_EVENTS as unknown as DomainEvent[]

t.test('events in, checks out: concurrent checks become one bulk call', async (t) => {
  const { url } = await startGateway(t)
  const trellis = new TrellisClient({ baseUrl: url, token: KEY })
  const applied = await trellis.sendEvents(business)
  t.equal(applied.length, business.length)
  t.ok(applied.every((r) => r.status === 'applied' && r.writtenAt))
  const again = await trellis.sendEvents(business)
  t.ok(
    again.every((r) => r.status === 'duplicate'),
    'the same ids again: duplicates, nothing applied twice',
  )

  const questions = [
    { resource: 'client:cassandra', permission: 'coach', subject: 'user:rob' },
    { resource: 'client:cassandra', permission: 'view', subject: 'user:jeannine' },
    { resource: 'client:cassandra', permission: 'coach', subject: 'user:jeannine' },
    { resource: 'client:cassandra', permission: 'view', subject: 'user:nobody' },
  ]
  const answers = await Promise.all(questions.map((q) => trellis.check(q)))
  t.same(
    answers.map((a) => a.allowed),
    [true, true, false, false],
  )
  t.ok(answers.every((a) => a.checkedAt && a.permissionship))
  t.equal(trellis.calls['/v1/check/bulk'], 1, 'four concurrent checks, one bulk call')
  t.equal(trellis.calls['/v1/check'], undefined)

  const many = await trellis.checkMany(Array.from({ length: 250 }, (_, i) => ({ ...questions[i % 4]! })))
  t.same(
    many.map((a) => a.allowed),
    Array.from({ length: 250 }, (_, i) => i % 4 < 2),
    'answered in order',
  )
  t.equal(trellis.calls['/v1/check/bulk'], 1 + 3, '250 checks in bulk calls of at most 100')

  // one malformed question fails alone, with its typed error; the others are answered
  const mixed = await Promise.allSettled([
    trellis.check(questions[0]!),
    trellis.check({ ...questions[1]!, resource: 'not a reference' }),
    trellis.check({ ...questions[0]!, permission: 'fly' }),
  ])
  t.equal(mixed[0].status, 'fulfilled')
  t.ok(mixed[1].status === 'rejected' && isTrellisError(mixed[1].reason) && mixed[1].reason.status === 400 && mixed[1].reason.field?.includes('resource'))
  t.ok(
    mixed[2].status === 'rejected' && isTrellisError(mixed[2].reason, 'GW_UNKNOWN_PERMISSION'),
    'an item the bulk could not answer is asked alone for its own error',
  )

  const alone = new TrellisClient({ baseUrl: url, token: KEY, coalesce: false })
  await Promise.all(questions.map((q) => alone.check(q)))
  t.equal(alone.calls['/v1/check'], 4, 'coalesce: false, one call each')
})

t.test('lookups page by cursor as async iterators', async (t) => {
  const { url } = await startGateway(t)
  const trellis = new TrellisClient({ baseUrl: url, token: KEY })
  await trellis.sendEvents(business)
  const clients = Array.from({ length: 23 }, (_, i) => ({
    id: `extra-client-${i}`,
    type: 'client.created' as const,
    data: { clientId: `c${i}`, organizationId: 'acme', primaryCoachId: 'rob' },
  }))
  await trellis.sendEvents(clients as DomainEvent[])
  const ids: string[] = []
  for await (const hit of trellis.lookupResources({ resourceType: 'client', permission: 'coach', subject: 'user:rob', limit: 5 })) ids.push(hit.id)
  t.equal(new Set(ids).size, 24, 'every client rob coaches, each once')
  t.ok(trellis.calls['/v1/lookup/resources']! >= 5, `${trellis.calls['/v1/lookup/resources']} pages of 5`)
  const rels: string[] = []
  for await (const r of trellis.relationships({ resourceType: 'client', relation: 'primary', limit: 10 })) rels.push(r)
  t.equal(rels.length, 24)
  t.ok((await trellis.lookupSubjects({ resource: 'client:cassandra', permission: 'view', subjectType: 'user' })).some((s) => s.id === 'jeannine'))
})

t.test('typed errors from the ErrorCode enum', async (t) => {
  const { url } = await startGateway(t)
  const stranger = new TrellisClient({ baseUrl: url, token: 'not-a-key-0123456789' })
  const err = await stranger.check({ resource: 'client:x', permission: 'view', subject: 'user:y' }).catch((e: unknown) => e)
  t.ok(err instanceof TrellisError)
  t.ok(isTrellisError(err, 'GW_UNAUTHORIZED'))
  t.equal((err as TrellisError).status, 401)
  const nowhere = new TrellisClient({ baseUrl: 'http://127.0.0.1:9', retry: { attempts: 2, baseDelayMs: 1 } })
  const down = await nowhere.check({ resource: 'client:x', permission: 'view', subject: 'user:y' }).catch((e: unknown) => e)
  t.equal((down as TrellisError).code, 'CLIENT_NETWORK')
  t.equal(nowhere.calls['/v1/check'], 2, 'retried, then refused: never an allow')
})

t.test('429 and 503 wait as retry-after says, then succeed', async (t) => {
  const { url } = await startGateway(t)
  const proxy = await startProxy(t, url, (s, n) =>
    s.path === '/v1/check' && n === 1
      ? { status: 503, headers: { 'retry-after': '1' } }
      : s.path === '/v1/check' && n === 2
        ? { status: 429, headers: { 'retry-after': '0' } }
        : undefined,
  )
  const trellis = new TrellisClient({ baseUrl: proxy.url, token: KEY })
  const started = Date.now()
  const answer = await trellis.check({ resource: 'client:x', permission: 'view', subject: 'user:y' })
  t.equal(answer.allowed, false)
  t.equal(proxy.seen.filter((s) => s.path === '/v1/check').length, 3, 'asked three times')
  t.ok(Date.now() - started >= 900, 'waited the second the 503 asked for')

  // a write that is not an event is retried on 429 only: a 503 may have applied it
  const strict = await startProxy(t, url, (s) => (s.path === '/v1/relationships' ? { status: 503, headers: { 'retry-after': '0' } } : undefined))
  const writer = new TrellisClient({ baseUrl: strict.url, token: KEY })
  const refused = await writer.request('POST', '/v1/relationships', { updates: [] }, 'rate-limited-only').catch((e: unknown) => e)
  t.ok(isTrellisError(refused, 'GW_ENGINE_UNAVAILABLE'))
  t.equal(strict.seen.length, 1)
})

t.test('an event batch whose answer was lost is sent again, and applied once', async (t) => {
  const { app, url } = await startGateway(t)
  let dropped = 0
  const proxy = await startProxy(t, url, (s) => (s.path === '/v1/events' && dropped++ === 0 ? 'drop' : undefined))
  const trellis = new TrellisClient({ baseUrl: proxy.url, token: KEY, retry: { baseDelayMs: 10 } })
  const results = await trellis.sendEvents(business.slice(0, 3))
  t.equal(proxy.seen.filter((s) => s.path === '/v1/events').length, 2, 'the first answer never came; sent again')
  t.same(
    results.map((r) => r.status),
    ['duplicate', 'duplicate', 'duplicate'],
    'the first attempt had applied them',
  )
  const audit = await app.inject({ method: 'GET', url: '/v1/audit?object=organization:acme', headers: { authorization: `Bearer ${KEY}` } })
  t.equal(audit.json().records.filter((r: { event?: { id: string } }) => r.event?.id === business[0]!.id).length, 1, 'one audit record: applied once')
})

t.test('consistency tokens are passed through, coalesced or not', async (t) => {
  const { url } = await startGateway(t)
  const proxy = await startProxy(t, url, () => undefined)
  const trellis = new TrellisClient({ baseUrl: proxy.url, token: KEY })
  const written = await trellis.sendEvents(business)
  const fresh = freshAs(written.at(-1)!.writtenAt)
  const answers = await trellis.checkMany([
    { resource: 'client:cassandra', permission: 'coach', subject: 'user:rob', consistency: fresh },
    { resource: 'client:cassandra', permission: 'coach', subject: 'user:nobody', consistency: fresh },
    { resource: 'client:cassandra', permission: 'coach', subject: 'user:rob' },
  ])
  t.same(
    answers.map((a) => a.allowed),
    [true, false, true],
  )
  const bulk = proxy.seen.find((s) => s.path === '/v1/check/bulk')!
  t.same(JSON.parse(bulk.body).consistency, fresh, 'the token went with the bulk call')
  const single = proxy.seen.find((s) => s.path === '/v1/check')!
  t.notOk(JSON.parse(single.body).consistency, 'the check without a token was sent on its own')
})
