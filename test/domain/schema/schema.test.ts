import t from 'tap'
import { buildTestApp } from '../../helpers/app.js'
import { canonicalSchema, syncSchema } from '../../../src/domain/schema/sync.js'

t.test('the schema in force is served, and rewritten only when it differs', async (t) => {
  const app = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/v1/schema' })
  t.equal(res.statusCode, 200)
  const served: string = res.json().schema
  for (const def of ['user', 'organization', 'program', 'section', 'client', 'group', 'course', 'certificate']) {
    t.match(served, new RegExp(`definition ${def} \\{`), `defines ${def}`)
  }
  t.equal(canonicalSchema(served), canonicalSchema(app.schemaText), 'the engine holds schema.zed')
  t.equal(await syncSchema(app.engine, app.schemaText), false, 'same schema: nothing written')
  const changed = `${app.schemaText}\ndefinition badge {\n  relation holder: user\n}\n`
  t.equal(await syncSchema(app.engine, changed), true, 'a different schema is written')
  t.match((await app.inject({ method: 'GET', url: '/v1/schema' })).json().schema, /definition badge/)
})

t.test('schema comparison follows SpiceDB precedence: dropped parentheses are equal, regroupings are not', async (t) => {
  const { canonicalExpression } = await import('../../../src/domain/schema/sync.js')
  t.equal(canonicalExpression('a & (b + c)'), canonicalExpression('a & b + c'))
  t.not(canonicalExpression('(a & b) + c'), canonicalExpression('a & b + c'))
  t.equal(canonicalExpression('a - b - c'), canonicalExpression('(a - b) - c'))
  t.not(canonicalExpression('a - (b - c)'), canonicalExpression('a - b - c'))
  t.equal(canonicalExpression('a + (b + c)'), canonicalExpression('a + b + c'))
  t.equal(canonicalExpression('org->administer + x.any(y)'), '(org->administer + x.any(y))')
})
