/**
 * The token frontier (src/engine/consistency/zedtoken-store.ts): the write tokens no other recorded token
 * covers, which a read must be at least as fresh as (src/engine/consistency/read-your-writes.ts).
 */
import t from 'tap'
import { coversToken, MemoryZedTokenStore, splitFrontier } from '../../../../src/engine/consistency/zedtoken-store.js'
import { pgToken, zedToken } from '../../fixtures/tokens.js'

const d5 = zedToken('5')
const d7 = zedToken('7')
const d7b = zedToken('7.0') // the same revision, another string
const pgA = pgToken({ xmin: 10, xmax: 12, xips: [10] }) // sees 11
const pgB = pgToken({ xmin: 10, xmax: 12, xips: [11] }) // sees 10
const pgBoth = pgToken({ xmin: 10, xmax: 13 }) // sees 10, 11 and 12

t.test('coversToken: a read at a sees every write b saw', async (t) => {
  t.ok(coversToken(d7, d5))
  t.notOk(coversToken(d5, d7))
  t.ok(coversToken(d7, d7b), 'the same revision')
  t.ok(coversToken('opaque', 'opaque'), 'a token covers itself even when it cannot be read')
  t.notOk(coversToken('opaque', d5), 'an unreadable token covers nothing else')
  t.notOk(coversToken(d7, 'opaque'), 'and is covered by nothing else')
  t.notOk(coversToken(pgA, pgB), 'concurrent snapshots')
  t.notOk(coversToken(pgB, pgA))
  t.ok(coversToken(pgBoth, pgA) && coversToken(pgBoth, pgB))
  t.notOk(coversToken(zedToken('7', 'other'), d5), 'another datastore')
})

t.test('splitFrontier: the uncovered tokens', async (t) => {
  t.same(splitFrontier([d5, d7]), { frontier: [d7], covered: [d5] })
  t.same(splitFrontier([d7, d5, d7]), { frontier: [d7], covered: [d5] }, 'duplicates count once')
  t.same(splitFrontier([pgA, pgB]).frontier.sort(), [pgA, pgB].sort(), 'concurrent: both stay')
  t.same(splitFrontier([pgA, pgB, pgBoth]), { frontier: [pgBoth], covered: [pgA, pgB].sort() })
  const same = splitFrontier([d7, d7b])
  t.equal(same.frontier.length, 1, 'of two equal revisions one stays')
  t.same(same.frontier, [[d7, d7b].sort()[0]], 'the smaller string, so two replicas pruning at once keep the same one')
  t.same(splitFrontier([d5, 'opaque']).frontier.sort(), [d5, 'opaque'].sort(), 'an unreadable token is never shown covered')
  t.same(splitFrontier([]), { frontier: [], covered: [] })
})

t.test('MemoryZedTokenStore keeps the frontier', async (t) => {
  const s = new MemoryZedTokenStore()
  t.same(await s.frontier(), [], 'nothing before the first write')
  await s.record(d5)
  await s.record(d7)
  t.same(await s.frontier(), [d7])
  await s.record(d5)
  t.same(await s.frontier(), [d7], 'a write older than the frontier changes nothing')
  const pg = new MemoryZedTokenStore()
  await pg.record(pgA)
  await pg.record(pgB)
  t.same((await pg.frontier()).sort(), [pgA, pgB].sort(), 'concurrent writes: both')
  await pg.record(pgBoth)
  t.same(await pg.frontier(), [pgBoth], 'a covering token collapses the frontier')
  await pg.record('opaque')
  t.same(await pg.frontier(), ['opaque'], 'an unreadable token stands for everything before it')
  await pg.record(pgA)
  t.same(await pg.frontier(), [pgA], 'and is dropped by the next readable one')
})
