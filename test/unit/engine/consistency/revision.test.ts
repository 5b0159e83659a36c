/**
 * ZedTokens opened up (src/engine/consistency/revision.ts): decoding, and the order of two revisions,
 * decimal (memdb, CockroachDB, MySQL, Spanner) and Postgres snapshots (only partially ordered).
 */
import t from 'tap'
import { compareRevisions, compareTokens, decodeZedToken, type Revision } from '../../../../src/engine/consistency/revision.js'
import { pgToken, pgRevision, zedToken } from '../../fixtures/tokens.js'

const dec = (s: string) => decodeZedToken(zedToken(s))!.revision

t.test('decodes a decimal revision and the datastore id', async (t) => {
  t.same(decodeZedToken(zedToken('1795418508726347189', 'ds-1')), { datastoreId: 'ds-1', revision: { kind: 'decimal', int: 1795418508726347189n, frac: '' } })
  t.same(dec('1700000000.0000000001'), { kind: 'decimal', int: 1700000000n, frac: '0000000001' })
  t.same(dec('7.500'), { kind: 'decimal', int: 7n, frac: '5' }, 'trailing zeros do not count')
  t.equal(decodeZedToken(zedToken('12', ''))!.datastoreId, '')
})

t.test('decodes a Postgres snapshot', async (t) => {
  const r = decodeZedToken(pgToken({ xmin: 100, xmax: 105, xips: [101, 103] }))!.revision
  t.equal(r.kind, 'snapshot')
  if (r.kind !== 'snapshot') return
  t.equal(r.xmax, 105n)
  t.same([...r.xip].sort(), [101n, 103n])
  const unpacked = decodeZedToken(pgToken({ xmin: 100, xmax: 105, xips: [101, 103], packed: false }))!.revision
  t.same(unpacked, r, 'repeated int64 packed or not')
})

t.test('anything else decodes to undefined, never throws', async (t) => {
  for (const bad of [
    '',
    'not base64 at all!',
    Buffer.from('hello').toString('base64'),
    zedToken('1.2.3'),
    zedToken('-5'),
    zedToken('0x1f'),
    Buffer.from([0x1a, 0x05, 0x0a]).toString('base64'), // a v1 field longer than the buffer
    Buffer.from([0x1a, 0x80]).toString('base64'), // a varint that never ends
    Buffer.from([0x1d, 0, 0, 0, 0]).toString('base64'), // wire type 5 (fixed32): unsupported
    Buffer.from([0x18, 0x01]).toString('base64'), // field 3 is a varint, not a message
  ]) {
    t.equal(decodeZedToken(bad), undefined, JSON.stringify(bad))
  }
})

t.test('decimal revisions are totally ordered', async (t) => {
  t.equal(compareRevisions(dec('5'), dec('7')), 'before')
  t.equal(compareRevisions(dec('7'), dec('5')), 'after')
  t.equal(compareRevisions(dec('5'), dec('5.0')), 'same')
  t.equal(compareRevisions(dec('5.1'), dec('5.01')), 'after', 'fractions compare as decimals, not as integers')
  t.equal(compareRevisions(dec('5.01'), dec('5.1')), 'before')
  t.equal(compareRevisions(dec('5.9'), dec('6')), 'before', 'the integer part first')
  t.equal(compareRevisions(dec('1795418508726347189'), dec('1795418508726347190')), 'before', 'beyond 2^53')
})

t.test('Postgres snapshots: covered, same, or concurrent', async (t) => {
  const s = (xmin: number, xmax: number, xips: number[] = []) => pgRevision({ xmin, xmax, xips })
  t.equal(compareRevisions(s(10, 12), s(10, 15)), 'before', 'b sees 12-14, a does not')
  t.equal(compareRevisions(s(10, 15), s(10, 12)), 'after')
  t.equal(compareRevisions(s(10, 12), s(10, 12)), 'same')
  t.equal(compareRevisions(s(10, 12), s(11, 12)), 'same', 'xmin only shortens the encoding')
  t.equal(compareRevisions(s(10, 12, [10]), s(10, 12, [11])), 'concurrent', 'each sees the write the other does not')
  t.equal(compareRevisions(s(10, 15, [12]), s(10, 13)), 'concurrent', 'a higher xmax that misses a transaction b sees')
  t.equal(compareRevisions(s(10, 15, [12]), s(10, 13, [12])), 'after', 'both miss 12: a sees the rest')
  t.equal(compareRevisions(s(10, 13, [12]), s(10, 15, [12, 13, 14])), 'same', 'what is in progress is not seen')
})

t.test('a decimal and a snapshot cannot be compared', async (t) => {
  const snap: Revision = pgRevision({ xmin: 1, xmax: 2 })
  t.equal(compareRevisions(dec('5'), snap), 'unknown')
  t.equal(compareRevisions(snap, dec('5')), 'unknown')
})

t.test('compareTokens: only tokens of one datastore compare', async (t) => {
  const a = decodeZedToken(zedToken('5', 'ds'))
  const b = decodeZedToken(zedToken('6', 'ds'))
  t.equal(compareTokens(a, b), 'before')
  t.equal(compareTokens(b, a), 'after')
  t.equal(compareTokens(a, a), 'same')
  t.equal(compareTokens(a, decodeZedToken(zedToken('6', 'other'))), 'unknown', 'another datastore')
  t.equal(compareTokens(a, undefined), 'unknown')
  t.equal(compareTokens(undefined, a), 'unknown')
  t.equal(
    compareTokens(decodeZedToken(pgToken({ xmin: 1, xmax: 3, xips: [1] }, 'pg')), decodeZedToken(pgToken({ xmin: 1, xmax: 3, xips: [2] }, 'pg'))),
    'concurrent',
  )
})
