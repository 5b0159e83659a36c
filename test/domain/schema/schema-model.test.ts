/**
 * The one schema reader (src/domain/schema/model.ts): what it reads from schema.zed, that it
 * reads SpiceDB's own regenerated text (from the compiled schema) to the same model, that what
 * it does not understand is reported rather than dropped, and that no other module reads
 * schema text itself.
 */
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { buildTestApp } from '../../helpers/app.js'
import { printAlternative, readSchema, type SchemaModel } from '../../../src/domain/schema/model.js'
import { canonicalExpression } from '../../../src/domain/schema/sync.js'

const schemaText = readFileSync(new URL('../../../schema.zed', import.meta.url), 'utf8')

t.test('schema.zed read: types, relations with their subjects and traits, permissions, caveats', async (t) => {
  const model = readSchema(schemaText)
  t.same([...model.definitions.keys()].sort(), ['certificate', 'client', 'course', 'group', 'internal_guard', 'organization', 'program', 'section', 'user'])
  t.same(model.relation('section', 'release')?.subjects.map(printAlternative), ['program', 'program with release_time'])
  t.ok(
    model.relation('client', 'organization')?.subjects.some((a) => a.type === 'organization'),
    'client#organization names organizations',
  )
  t.ok(model.permission('client', 'view'), 'client#view is a permission')
  t.notOk(model.relation('client', 'view'), 'and not a relation')
  t.same(
    [...model.caveats.get('release_time')!.params],
    [
      ['now', 'timestamp'],
      ['release_at', 'timestamp'],
    ],
  )
  t.equal(readSchema(schemaText), model, 'the same text is read once')
  for (const def of model.definitions.values()) t.same(def.unknown, [], `${def.name}: every statement understood`)
})

t.test('what the reader does not understand is kept as unknown, not dropped', async (t) => {
  const model = readSchema(`
    use expiration
    // a comment with definition inside
    definition user {}
    definition doc {
      frobnicate everything
      relation viewer: user | user:* | group#member with expiration | ???
      permission view = viewer + other->thing
    }
    caveat limit(amount int, tags map<string, int>) { amount < 10 && {"a": 1}.size() > 0 }
  `)
  t.same(model.directives, ['use expiration'])
  t.same(model.relation('doc', 'viewer')?.subjects.map(printAlternative), ['user', 'user:*', 'group#member with expiration'])
  t.same(model.relation('doc', 'viewer')?.unknown, ['???'])
  t.same(model.definitions.get('doc')?.unknown, ['frobnicate everything'])
  t.equal(model.permission('doc', 'view')?.expression, 'viewer + other->thing')
  t.same(
    [...model.caveats.get('limit')!.params],
    [
      ['amount', 'int'],
      ['tags', 'map<string,int>'],
    ],
  )
  t.equal(model.caveats.get('limit')!.expression, 'amount < 10 && {"a": 1}.size() > 0', 'braces inside a caveat body do not end it')
})

/** the model as comparable facts */
function facts(model: SchemaModel) {
  return [...model.definitions.values()]
    .map((d) => ({
      name: d.name,
      relations: d.relations.map((r) => `${r.name}: ${r.subjects.map(printAlternative).join(' | ')}`).sort(),
      permissions: d.permissions.map((p) => `${p.name} = ${canonicalExpression(p.expression)}`).sort(),
    }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

t.test("SpiceDB's own text of the compiled schema reads to the same model", async (t) => {
  const app = await buildTestApp(t)
  const served = await app.engine.readSchema()
  t.ok(served, 'the engine serves the schema it compiled')
  const ours = readSchema(app.schemaText)
  const theirs = readSchema(served!)
  t.same(facts(theirs), facts(ours))
  t.same([...theirs.caveats.keys()], [...ours.caveats.keys()])
  for (const [name, c] of ours.caveats) t.same([...theirs.caveats.get(name)!.params], [...c.params], `caveat ${name}`)
})

/** a regex over schema text: `definition\\s`, `caveat\\s`, `relation\\s+`, `/^permission `, in a literal or a string */
export const SCHEMA_READING = /\b(?:definition|caveat|relation|permission)\\{1,2}s|\/\^(?:\\s\*)?(?:definition|caveat|relation|permission)\b/

t.test('no other module in src/ reads schema text itself', async (t) => {
  const root = new URL('../../../src', import.meta.url).pathname
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => (statSync(path.join(dir, n)).isDirectory() ? files(path.join(dir, n)) : [path.join(dir, n)]))
  for (const file of files(root).filter((f) => f.endsWith('.ts') && !f.endsWith(path.join('domain', 'schema', 'model.ts')))) {
    const text = readFileSync(file, 'utf8')
    t.notMatch(text, SCHEMA_READING, `${path.relative(root, file)} has no schema regex`)
  }
})
