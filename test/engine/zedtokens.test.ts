/**
 * ZedToken comparison and the token store's frontier: the pieces read-your-writes rests on.
 * Tokens are built the way SpiceDB builds them (base64 protobuf), for memdb's decimal
 * revisions and Postgres snapshots, including two writes that committed concurrently.
 */
import t from 'tap'
import { Redis } from 'ioredis'
import { compareTokens, decodeZedToken } from '../../src/engine/consistency/revision.js'
import { MemoryZedTokenStore, splitFrontier } from '../../src/engine/consistency/zedtoken-store.js'
import { RedisZedTokenStore } from '../../src/stores/redis-zedtoken-store.js'
import { requirePart, testEngine } from '../helpers/app.js'
import { startRemoteEngine } from '../helpers/engine-remote.js'
import { createRemoteEngine } from '../../src/engine/remote.js'
import { ReadYourWritesEngine } from '../../src/engine/consistency/read-your-writes.js'
import { READ_YOUR_WRITES } from '../../src/domain/wire/consistency.js'

function varint(n: bigint): number[] {
  const out: number[] = []
  do {
    let b = Number(n & 0x7fn)
    n >>= 7n
    if (n > 0n) b |= 0x80
    out.push(b)
  } while (n > 0n)
  return out
}
const bytesField = (field: number, b: Uint8Array | number[]) => [...varint(BigInt((field << 3) | 2)), ...varint(BigInt(b.length)), ...b]
const intField = (field: number, v: bigint) => [...varint(BigInt(field << 3)), ...varint(v)]
const str = (s: string) => [...Buffer.from(s)]

function zedToken(revision: string, datastoreId = 'ds1'): string {
  const v1 = [...bytesField(1, str(revision)), ...bytesField(2, str(datastoreId))]
  return Buffer.from(bytesField(3, v1)).toString('base64')
}

/** a Postgres snapshot: everything below xmax is visible except the in-progress xips */
function pgToken(xmin: number, xmax: number, xips: number[] = [], packed = true): string {
  const rel = xips.map((x) => BigInt(x - xmin))
  const xipBytes = packed ? bytesField(3, rel.flatMap(varint)) : rel.flatMap((r) => intField(3, r))
  const rev = [...intField(1, BigInt(xmin)), ...intField(2, BigInt(xmax - xmin)), ...xipBytes]
  return zedToken(Buffer.from(rev).toString('base64'))
}

t.test('memdb decimal revisions are totally ordered', async (t) => {
  const a = decodeZedToken(zedToken('1795418508725718784'))
  const b = decodeZedToken(zedToken('1795418508726347189'))
  t.equal(compareTokens(a, b), 'before')
  t.equal(compareTokens(b, a), 'after')
  t.equal(compareTokens(decodeZedToken(zedToken('12.5')), decodeZedToken(zedToken('12.50'))), 'same')
  t.equal(compareTokens(decodeZedToken(zedToken('12.05')), decodeZedToken(zedToken('12.5'))), 'before')
})

t.test('a real token from each engine decodes', async (t) => {
  t.same(decodeZedToken('Gh8KEzE3OTU0MTg1MDg3MjYzNDcxODkSCDc4YjJmYmNi'), {
    datastoreId: '78b2fbcb',
    revision: { kind: 'decimal', int: 1795418508726347189n, frac: '' },
  })
  t.same(decodeZedToken('GiQKGENNc0dJTW9HS0pDb2g1M3g4NmIxR0E9PRIIYTQzYzU2OWQ='), {
    datastoreId: 'a43c569d',
    revision: { kind: 'snapshot', xmax: 843n, xip: new Set() },
  })
  t.equal(decodeZedToken('not a token'), undefined)
  t.equal(decodeZedToken(''), undefined)
})

t.test('Postgres snapshots: ordered when one sees all the other sees, else concurrent', async (t) => {
  const older = decodeZedToken(pgToken(100, 100))
  const newer = decodeZedToken(pgToken(105, 105))
  t.equal(compareTokens(newer, older), 'after')
  t.equal(compareTokens(older, newer), 'before')
  // Writes 101 and 102 commit concurrently: each token sees itself but not the other.
  const w101 = decodeZedToken(pgToken(100, 103, [100, 102]))
  const w102 = decodeZedToken(pgToken(100, 103, [100, 101], false))
  t.equal(compareTokens(w101, w102), 'concurrent')
  t.equal(compareTokens(w102, w101), 'concurrent')
  const both = decodeZedToken(pgToken(100, 103, [100]))
  t.equal(compareTokens(both, w101), 'after')
  t.equal(compareTokens(both, w102), 'after')
  t.equal(compareTokens(decodeZedToken(pgToken(100, 103, [100, 102], false)), w101), 'same', 'packed and unpacked xips read alike')
  t.equal(compareTokens(decodeZedToken(pgToken(100, 100, [], true)), decodeZedToken(zedToken('100'))), 'unknown', 'kinds differ')
  t.equal(compareTokens(decodeZedToken(zedToken('5', 'a')), decodeZedToken(zedToken('6', 'b'))), 'unknown', 'datastores differ')
})

t.test('the frontier keeps every token no other covers', async (t) => {
  const w101 = pgToken(100, 103, [100, 102])
  const w102 = pgToken(100, 103, [100, 101])
  const old = pgToken(100, 100)
  t.same(splitFrontier([old, w101, w102]).frontier.sort(), [w101, w102].sort())
  t.same(splitFrontier([old, w101, w102]).covered, [old])
  const store = new MemoryZedTokenStore()
  t.same(await store.frontier(), [], 'empty before the first write')
  await store.record(w102)
  await store.record(old) // finished last, covered by what came before
  await store.record(w101)
  t.same((await store.frontier()).sort(), [w101, w102].sort(), 'concurrent writes both kept, in any finishing order')
  const both = pgToken(100, 103, [100])
  await store.record(both)
  t.same(await store.frontier(), [both], 'a token covering both collapses the frontier')
})

t.test('redis store: a token recorded through one replica is in the next read through another', async (t) => {
  const url = process.env.TEST_REDIS_URL
  if (!requirePart(t, 'redis', Boolean(url))) return
  const redis = new Redis(url!)
  t.teardown(() => redis.quit())
  const prefix = `zt-test:${Date.now()}:`
  const a = new RedisZedTokenStore(redis, { datastoreId: 'ds1', prefix })
  const b = new RedisZedTokenStore(redis, { datastoreId: 'ds1', prefix })
  const other = new RedisZedTokenStore(redis, { datastoreId: 'ds2', prefix })
  const w101 = pgToken(100, 103, [100, 102])
  const w102 = pgToken(100, 103, [100, 101])
  await a.record(pgToken(100, 100))
  await a.record(w101)
  await b.record(w102)
  // Many concurrent reads share fetches, yet each sees both writes.
  const reads = await Promise.all(Array.from({ length: 50 }, () => b.frontier()))
  for (const f of reads) t.same([...f].sort(), [w101, w102].sort())
  t.same(await other.frontier(), [], 'another datastore has its own set')
  t.same((await redis.smembers(`${prefix}zedtokens:ds1`)).sort(), [w101, w102].sort(), 'covered tokens pruned')
  t.ok((await redis.ttl(`${prefix}zedtokens:ds1`)) > 0, 'the set expires when untouched')
})

/** Re-encodes a Postgres revision as a token of the same datastore. */
function pgLike(datastoreId: string, xmax: bigint, xips: bigint[]): string {
  const xmin = xips.length ? xips.reduce((a, b) => (a < b ? a : b)) : xmax
  const rel = xips.map((x) => x - xmin)
  const rev = [...intField(1, xmin), ...intField(2, xmax - xmin), ...bytesField(3, rel.flatMap(varint))]
  return zedToken(Buffer.from(rev).toString('base64'), datastoreId)
}

// Postgres snapshots need the remote engine: this runs in the remote leg (TRELLIS_TEST_ENGINE=remote),
// and is not registered on the embedded one (CI counts a skip as a failure).
if (testEngine() === 'remote')
  t.test('remote: concurrent write tokens are covered by a verified head token, stale heads are asked again', async (t) => {
    const server = await startRemoteEngine()
    const raw = createRemoteEngine({ endpoints: server.endpoints, presharedKey: server.presharedKey, insecure: true, timeoutMs: 10_000 })
    t.teardown(async () => {
      await raw.close()
      await server.close()
    })
    await raw.writeSchema('definition user {}\ndefinition doc {\n  relation viewer: user\n  permission view = viewer\n}')
    const rel = (id: string) => ({ resource: { type: 'doc', id }, relation: 'viewer', subject: { type: 'user', id: 'u' } })
    for (let i = 0; i < 4; i++) await raw.writeRelationships([{ operation: 'touch', relationship: rel(`d${i}`) }])
    const before = await raw.headToken()
    const head = decodeZedToken(before)!
    t.equal(head.revision.kind, 'snapshot')
    const xmax = head.revision.kind === 'snapshot' ? head.revision.xmax : 0n
    // Transactions still in progress at the head (the server's own, other clients') stay so.
    const open = head.revision.kind === 'snapshot' ? [...head.revision.xip] : []
    // Two past snapshots, each missing the other's transaction: what concurrent commits produce.
    const a = pgLike(head.datastoreId, xmax, [...open, xmax - 2n])
    const b = pgLike(head.datastoreId, xmax, [...open, xmax - 1n])
    t.equal(compareTokens(decodeZedToken(a), decodeZedToken(b)), 'concurrent')

    // The first head lookup answers from before both (as SpiceDB's shared lookup can).
    const stale = pgLike(
      head.datastoreId,
      xmax - 3n,
      open.filter((x) => x < xmax - 3n),
    )
    let lookups = 0
    const engine = Object.assign(Object.create(raw) as typeof raw, {
      headToken: () => (lookups++ === 0 ? Promise.resolve(stale) : raw.headToken()),
    })
    const store = new MemoryZedTokenStore()
    await store.record(a)
    await store.record(b)
    const ryw = new ReadYourWritesEngine(engine, store)
    const removed = await ryw.deleteRelationships({ resourceType: 'doc', resourceId: 'd3' })
    t.ok(removed.deletedAt)
    const answer = await ryw.check([{ resource: { type: 'doc', id: 'd3' }, permission: 'view', subject: { type: 'user', id: 'u' } }], READ_YOUR_WRITES)
    t.equal(answer.results[0]!.permissionship, 'no_permission', 'the delete is seen')
    // The delete's token covers both crafted tokens, so no head lookup was needed for this read.
    t.same(ryw.stats, { headLookups: 0, staleHeads: 0, reasked: 0 })

    // Without a covering write: the frontier is {a, b}; the stale head is refused, the next accepted.
    const fresh = new MemoryZedTokenStore()
    await fresh.record(a)
    await fresh.record(b)
    const ryw2 = new ReadYourWritesEngine(engine, fresh)
    const seen = await ryw2.check([{ resource: { type: 'doc', id: 'd1' }, permission: 'view', subject: { type: 'user', id: 'u' } }], READ_YOUR_WRITES)
    t.equal(seen.results[0]!.permissionship, 'has_permission')
    t.same(ryw2.stats, { headLookups: 2, staleHeads: 1, reasked: 0 }, 'one stale head refused, one verified')
    t.equal((await fresh.frontier()).length, 1, 'the verified head collapsed the frontier')
  })
