/** Object references on the wire (src/domain/wire/refs.ts): SpiceDB's grammar, checked before any engine call. */
import t, { type Test } from 'tap'
import { formatObject, formatRelationship, formatSubject, parseObject, parseRelationship, parseSubject, PATTERNS } from '../../../../src/domain/wire/refs.js'
import { GatewayError } from '../../../../src/domain/wire/errors.js'

const refused = (t: Test, fn: () => unknown, field: string, why: string) => t.throws(fn, { code: 'GW_INVALID_REFERENCE', statusCode: 400, field }, why)

t.test('objects', async (t) => {
  t.same(parseObject('program:p1', 'f'), { type: 'program', id: 'p1' })
  t.same(parseObject('acme/program:a-b_c|d=e+f/g', 'f'), { type: 'acme/program', id: 'a-b_c|d=e+f/g' }, 'a prefix and every id character')
  t.same(parseObject(`doc:${'x'.repeat(1024)}`, 'f').id.length, 1024)
  for (const bad of [
    'program',
    'program:',
    ':p1',
    'Program:p1',
    'p:p1',
    'program:p 1',
    'program:p1#view',
    'program:*',
    `doc:${'x'.repeat(1025)}`,
    'a/b/doc:x',
    'doc_:x',
    'program:p1:p2',
  ]) {
    refused(t, () => parseObject(bad, 'body.resource'), 'body.resource', JSON.stringify(bad))
  }
  const err = (() => {
    try {
      parseObject('nope', 'body.resource')
    } catch (e) {
      return e as GatewayError
    }
  })()!
  t.equal(err.message, 'body.resource: "nope" is not an object reference type:id', 'the message names the field and what was expected')
})

t.test('subjects', async (t) => {
  t.same(parseSubject('user:ana', 'f'), { type: 'user', id: 'ana' })
  t.same(parseSubject('group:g1#member', 'f'), { type: 'group', id: 'g1', relation: 'member' })
  t.same(parseSubject('user:ana#...', 'f'), { type: 'user', id: 'ana' }, 'the ellipsis is no relation')
  t.same(parseSubject('user:*', 'f'), { type: 'user', id: '*' }, 'the wildcard')
  for (const bad of ['user', 'user:ana#', 'user:ana#Member', 'user:ana#m', 'user:a*', 'user:ana#member#x'])
    refused(t, () => parseSubject(bad, 's'), 's', JSON.stringify(bad))
})

t.test('relationships, with and without caveats', async (t) => {
  t.same(parseRelationship('program:p1#facilitator@user:ana', 'r'), {
    resource: { type: 'program', id: 'p1' },
    relation: 'facilitator',
    subject: { type: 'user', id: 'ana' },
  })
  t.same(parseRelationship('program:p1#assigned_group@group:g1#member', 'r').subject, { type: 'group', id: 'g1', relation: 'member' })
  t.same(parseRelationship('section:s1#release@program:p1[release_time]', 'r').caveat, { name: 'release_time' })
  t.same(parseRelationship('section:s1#release@program:p1[release_time:{"release_at":"2030-01-01T00:00:00Z"}]', 'r').caveat, {
    name: 'release_time',
    context: { release_at: '2030-01-01T00:00:00Z' },
  })
  for (const bad of [
    'program:p1#facilitator',
    'program:p1@user:ana',
    'program:p1#f@user:ana',
    'program#facilitator@user:ana',
    'program:p1#facilitator@user',
    'program:p1#facilitator@user:ana[Bad]',
  ]) {
    refused(t, () => parseRelationship(bad, 'updates.0.relationship'), 'updates.0.relationship', JSON.stringify(bad))
  }
  for (const ctx of ['[1]', '"x"', '{not json}', 'null']) {
    t.throws(() => parseRelationship(`section:s1#release@program:p1[release_time:${ctx}]`, 'r'), { code: 'GW_INVALID_REFERENCE' }, `context ${ctx}`)
  }
  t.throws(() => parseRelationship('section:s1#release@program:p1[release_time:{"a":1]', 'r'), {
    message: /a caveat context that is a JSON object|a relationship/,
  })
})

t.test('format is the inverse of parse', async (t) => {
  for (const text of [
    'program:p1#facilitator@user:ana',
    'program:p1#assigned_group@group:g1#member',
    'section:s1#release@program:p1[release_time]',
    'section:s1#release@program:p1[release_time:{"release_at":"x","n":1}]',
    'doc:d#viewer@user:*',
  ]) {
    t.equal(formatRelationship(parseRelationship(text, 'r')), text, text)
  }
  t.equal(formatObject({ type: 'a', id: 'b' }), 'a:b')
  t.equal(formatSubject({ type: 'group', id: 'g', relation: 'member' }), 'group:g#member')
  t.equal(formatSubject({ type: 'user', id: 'u' }), 'user:u')
})

t.test('the OpenAPI patterns say what the parsers accept', async (t) => {
  const obj = new RegExp(PATTERNS.object)
  const subj = new RegExp(PATTERNS.subject)
  for (const s of ['program:p1', 'acme/program:x', 'Program:p1', 'program:', 'program:p 1']) {
    let ok = true
    try {
      parseObject(s, 'f')
    } catch {
      ok = false
    }
    t.equal(obj.test(s), ok, `object ${s}`)
  }
  for (const s of ['user:ana', 'group:g#member', 'user:*', 'user:ana#...', 'user:ana#', 'user:a*']) {
    let ok = true
    try {
      parseSubject(s, 'f')
    } catch {
      ok = false
    }
    t.equal(subj.test(s), ok, `subject ${s}`)
  }
  t.ok(new RegExp(PATTERNS.type).test('program') && !new RegExp(PATTERNS.type).test('p'))
  t.ok(new RegExp(PATTERNS.relation).test('co_author') && !new RegExp(PATTERNS.relation).test('co-author'))
})
