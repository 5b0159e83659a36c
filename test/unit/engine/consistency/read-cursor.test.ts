/** A paged read's cursor carries the consistency of its first page (src/engine/consistency/read-cursor.ts). */
import t from 'tap'
import { unwrapCursor, wrapCursor } from '../../../../src/engine/consistency/read-cursor.js'

t.test('the consistency of the first page comes back with the cursor', async (t) => {
  t.same(unwrapCursor(wrapCursor({ mode: 'at_least_as_fresh', token: 'GhUK' }, 'c1')), {
    consistency: { mode: 'at_least_as_fresh', token: 'GhUK' },
    cursor: 'c1',
  })
  t.same(unwrapCursor(wrapCursor({ mode: 'fully_consistent' }, 'c2')), { consistency: { mode: 'fully_consistent' }, cursor: 'c2' })
  t.same(unwrapCursor(wrapCursor({ mode: 'minimize_latency' }, 'c3')), { consistency: { mode: 'minimize_latency' }, cursor: 'c3' })
})

t.test('what is not ours is left for SpiceDB to judge', async (t) => {
  t.equal(unwrapCursor('not-base64-json'), undefined)
  t.equal(unwrapCursor(Buffer.from(JSON.stringify(['at_least_as_fresh', '', 'c'])).toString('base64url')), undefined, 'at_least_as_fresh with no token')
  t.equal(unwrapCursor(Buffer.from(JSON.stringify(['at_exact_snapshot', 'GhUK', 'c'])).toString('base64url')), undefined, 'a mode a page is never read at')
  t.equal(unwrapCursor(Buffer.from(JSON.stringify(['fully_consistent', '', 7])).toString('base64url')), undefined, 'a cursor that is not a string')
})
