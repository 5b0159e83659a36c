/**
 * The whole-set judgement of an import or an applied reconcile (src/domain/onboarding/
 * import-judgement.ts): the compact index of the set and of the live relationships it lands on,
 * judged object by object with the same `judge()` direct writes use. No engine: the live state is
 * handed to the index as an engine export would hand it.
 */
import t from 'tap'
import { JudgementIndex, type Violation } from '../../../../src/domain/onboarding/import-judgement.js'
import { parseRelationship } from '../../../../src/domain/wire/refs.js'

const rel = (text: string) => parseRelationship(text, 'r')

/** Judges `set` (line n is set[n - 1]) on top of `live`; `deletes` come first, numbered before the set, as a reconcile numbers them. */
async function judged(set: string[], live: string[] = [], deletes: string[] = [], max?: number): Promise<Violation[]> {
  const index = new JudgementIndex()
  for (const r of live) index.addLive(rel(r))
  deletes.forEach((r, i) => index.delete(rel(r), i + 1))
  set.forEach((r, i) => index.add(rel(r), deletes.length + i + 1))
  return index.judgeAll(max)
}

const codes = (v: Violation[]) => v.map((x) => `${x.line} ${x.code}`)

// one organization with an owner, two coaches and a member; c1 paired with rob
const ACME = [
  'organization:acme#owner@user:olivia',
  'organization:acme#coach@user:rob',
  'organization:acme#coach@user:rita',
  'organization:acme#member@user:mia',
  'organization:acme#author@user:alex',
  'client:c1#organization@organization:acme',
  'client:c1#primary@user:rob',
  'client:c1#account@user:cara',
  'course:k1#organization@organization:acme',
  'group:g1#organization@organization:acme',
  'group:gb#organization@organization:beta',
  'program:p1#organization@organization:acme',
]

t.test('a set that keeps every invariant is judged clean, alone or on a live state', async (t) => {
  t.same(await judged(ACME), [])
  t.same(await judged(ACME, ACME), [], 'the set again over itself (an export imported back)')
  t.same(await judged([...ACME, ...ACME]), [], 'a relationship named twice in the set is one relationship')
  t.same(await judged(['client:c2#organization@organization:acme', 'client:c2#primary@user:rita', 'client:c2#coaching@user:rob'], ACME), [])
  t.same(await judged(['section:s1#release@program:p1', 'group:g1#member@user:mia']), [], 'relations no invariant governs')
})

t.test('I1: a second primary coach names both lines, the later one first', async (t) => {
  const v = await judged([...ACME, 'client:c1#primary@user:rita'])
  t.same(codes(v), [`${ACME.length + 1} GW_PRIMARY_REQUIRED`])
  t.same(v[0]!.lines, [6, 7, ACME.length + 1], 'with the organization link, refused on its own on the state the set leaves')
  t.match(v[0]!.message, /client:c1 would have 2 primary coaches/)
  // on a live state: the live primary is counted, only the set's line is named
  const live = await judged(['client:c1#primary@user:rita'], ACME)
  t.same(codes(live), ['1 GW_PRIMARY_REQUIRED'])
  t.same(live[0]!.lines, [1])
  t.same(codes(await judged(['client:c9#organization@organization:acme'], ACME)), ['1 GW_PRIMARY_REQUIRED'], 'a client of an organization with no primary')
})

t.test('I5: a client of no organization pairs with no one; only coaches and the owner pair', async (t) => {
  const v = await judged(['organization:acme#coach@user:rob', 'client:lone#primary@user:rob'])
  t.same(codes(v), ['2 GW_NOT_PAIRABLE'])
  t.match(v[0]!.message, /client:lone belongs to no organization/)
  t.same(codes(await judged(['client:c1#coaching@user:mia'], ACME)), ['1 GW_NOT_PAIRABLE'], 'a member is not pairable')
  t.same(codes(await judged(['client:c1#coaching@user:nobody'], ACME)), ['1 GW_NOT_PAIRABLE'], 'someone of no role')
  t.same(await judged(['client:c1#view_only@user:olivia'], ACME), [], 'the owner is pairable')
  t.same(
    await judged(['organization:acme#coach@user:mia', 'client:c1#coaching@user:mia'], ACME, ['organization:acme#member@user:mia']),
    [],
    'made a coach in the same set',
  )
})

t.test('I2, I4: one owner with no other role, one role each', async (t) => {
  t.same(codes(await judged([...ACME, 'organization:acme#owner@user:rob'])), [`${ACME.length + 1} GW_OWNER_TRANSFER_ONLY`])
  t.same(codes(await judged(['organization:acme#admin@user:rita'], ACME)), ['1 GW_ONE_ROLE'])
  t.same(
    codes(await judged(['program:p1#tutor@user:ana', 'program:p1#facilitator@user:ana'])).map((c) => c.split(' ')[1]),
    ['GW_ONE_ROLE'],
  )
})

t.test("a reconcile's deletes: the owner stays, a coach with clients stays a coach, a client keeps its primary", async (t) => {
  t.same(codes(await judged([], ACME, ['organization:acme#owner@user:olivia'])), ['1 GW_OWNER_UNTOUCHABLE'])
  t.same(
    codes(await judged(['organization:acme#member@user:rob'], ACME, ['organization:acme#coach@user:rob'])).map((c) => c.split(' ')[1]),
    ['GW_PRIMARY_COACH_OF_CLIENTS'],
  )
  t.same(codes(await judged([], ACME, ['client:c1#primary@user:rob'])), ['1 GW_PRIMARY_REQUIRED'])
  t.same(await judged(['client:c1#primary@user:rita'], ACME, ['client:c1#primary@user:rob']), [], 'a primary replaced in one set')
  t.same(await judged([], ACME, ['client:c1#account@user:cara']), [], 'a relation no invariant governs')
})

t.test('I6, I7: co-authors of the organization, no group of another one', async (t) => {
  t.same(await judged(['course:k1#co_author@user:alex'], ACME), [])
  t.same(codes(await judged(['course:k1#co_author@user:mia'], ACME)), ['1 GW_NOT_CO_AUTHOR_ELIGIBLE'])
  t.same(codes(await judged(['course:k2#co_author@user:alex'], ACME)), ['1 GW_NOT_CO_AUTHOR_ELIGIBLE'], 'a course of no organization')
  t.same(await judged(['program:p1#assigned_group@group:g1'], ACME), [])
  t.same(codes(await judged(['program:p1#assigned_group@group:gb'], ACME)), ['1 GW_CROSS_ORGANIZATION'])
})

t.test('violations come by line, the first `max` of them', async (t) => {
  const set = [...ACME]
  for (let i = 0; i < 30; i++) set.push(`client:x${i}#primary@user:rob`)
  const v = await judged(set)
  t.equal(v.length, 20, 'at most 20 by default')
  t.same(
    v.map((x) => x.line),
    [...Array(20).keys()].map((i) => ACME.length + 1 + i),
  )
  t.equal((await judged(set, [], [], 3)).length, 3)
})

t.test('a large set is judged in one pass over compact entries', async (t) => {
  const set: string[] = []
  for (let o = 0; o < 50; o++) {
    set.push(`organization:o${o}#owner@user:o${o}-owner`)
    for (let k = 0; k < 10; k++) set.push(`organization:o${o}#coach@user:o${o}-coach${k}`)
    for (let c = 0; c < 200; c++) {
      set.push(
        `client:o${o}-c${c}#organization@organization:o${o}`,
        `client:o${o}-c${c}#primary@user:o${o}-coach${c % 10}`,
        `client:o${o}-c${c}#account@user:o${o}-client${c}`,
      )
    }
  }
  set.push('client:o7-c3#primary@user:o7-coach9')
  const v = await judged(set)
  t.same(codes(v), [`${set.length} GW_PRIMARY_REQUIRED`])
  const c3 = set.indexOf('client:o7-c3#organization@organization:o7') + 1
  t.same(v[0]!.lines, [c3, c3 + 1, set.length], 'its organization link, its primary and the second primary')
})
