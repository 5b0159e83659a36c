/** Signed page cursors (src/domain/questions/cursor.ts): only what this gateway issued, for this question. */
import t, { type Test } from 'tap'
import { CursorSigner } from '../../../../src/domain/questions/cursor.js'
import { GatewayError } from '../../../../src/domain/wire/errors.js'

const SECRET = 'a-secret-of-at-least-thirty-two-chars!'
const now = new Date('2026-03-01T12:00:00Z')
const q = CursorSigner.question(['lookup', 'program', 'view', 'user:ana'])
const page = { c: 'engine-cursor', n: '2026-03-01T11:59:00Z', q }

function refusedAs(t: Test, fn: () => unknown, field: string, why: string) {
  try {
    fn()
    t.fail(`accepted: ${why}`)
  } catch (err) {
    t.type(err, GatewayError, why)
    t.match(err, { code: 'GW_INVALID_CURSOR', statusCode: 400, field }, why)
  }
}

t.test('a signed cursor opens to its cursor and clock', async (t) => {
  const s = new CursorSigner(SECRET)
  const opened = s.open(s.sign(page), q, now)
  t.same(opened, { c: 'engine-cursor', n: new Date('2026-03-01T11:59:00Z') })
  t.same(new CursorSigner(SECRET).open(s.sign(page), q, now), opened, 'another replica with the same secret')
})

t.test('the clock is never later than now', async (t) => {
  const s = new CursorSigner(SECRET)
  const ahead = s.open(s.sign({ ...page, n: '2030-01-01T00:00:00Z' }), q, now)
  t.same(ahead.n, now, 'a replica whose clock runs ahead cannot move the judgement later')
})

t.test('the question digest: stable, and different per question', async (t) => {
  t.equal(CursorSigner.question(['a', 1]), CursorSigner.question(['a', 1]))
  t.not(CursorSigner.question(['a', 1]), CursorSigner.question(['a', 2]))
  t.not(CursorSigner.question(['a', 'b']), CursorSigner.question(['ab']))
  t.equal(CursorSigner.question(['x']).length, 22)
})

t.test('refused: tampered, forged, other question, other secret, malformed', async (t) => {
  const s = new CursorSigner(SECRET)
  const good = s.sign(page)
  const [payload, mac] = good.split('.') as [string, string]
  const edited = Buffer.from(JSON.stringify({ ...page, n: '2099-01-01T00:00:00Z' })).toString('base64url')
  refusedAs(t, () => s.open(`${edited}.${mac}`, q, now), 'cursor', 'an edited payload with the old MAC')
  refusedAs(t, () => s.open(`${payload}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BB' : 'AA'}`, q, now), 'cursor', 'an edited MAC')
  refusedAs(t, () => s.open(`${payload}.${mac.slice(0, 10)}`, q, now), 'cursor', 'a short MAC')
  refusedAs(t, () => s.open(good, CursorSigner.question(['another']), now), 'cursor', 'another question')
  refusedAs(t, () => new CursorSigner('another-secret-of-thirty-two-chars!!!').open(good, q, now), 'cursor', 'another secret')
  refusedAs(t, () => new CursorSigner().open(new CursorSigner().sign(page), q, now), 'cursor', 'random keys: cursors die with the process')
  refusedAs(t, () => s.open('no-dot-at-all', q, now), 'cursor', 'no dot')
  refusedAs(t, () => s.open(`.${mac}`, q, now), 'cursor', 'empty payload')
  refusedAs(t, () => s.open(`${'a'.repeat(8200)}.${mac}`, q, now), 'cursor', 'too long')
  refusedAs(t, () => s.open('nodot', q, now, 'query.cursor'), 'query.cursor', 'the field is the one named')
  // signed by us but not a page: still refused
  const sign = (obj: unknown) => {
    const p = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj)).toString('base64url')
    return `${p}.${(s as unknown as { mac(p: string): Buffer }).mac(p).toString('base64url')}`
  }
  t.same(s.open(sign(page), q, now).c, 'engine-cursor', "the signing used below is the signer's own")
  refusedAs(t, () => s.open(sign('not json'), q, now), 'cursor', 'not JSON')
  refusedAs(t, () => s.open(sign({ ...page, c: 5 }), q, now), 'cursor', 'c not a string')
  refusedAs(t, () => s.open(sign({ ...page, n: 'yesterday' }), q, now), 'cursor', 'n not a time')
  refusedAs(t, () => s.open(sign({ c: 'x', n: page.n }), q, now), 'cursor', 'no question')
})
