/** Which recorded writes can change who holds a permission (src/domain/audit/reach.ts), and the types a permission depends on. */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { mayChangeHolders, visitedObjects } from '../../../../src/domain/audit/reach.js'
import { reachableTypes } from '../../../../src/domain/audit/access-changes.js'
import type { AuditRecord } from '../../../../src/domain/audit/auditor.js'
import type { TreeNode } from '../../../../src/domain/questions/expand.js'

const tree: TreeNode = {
  object: 'client:c1',
  relation: 'view',
  operation: 'union',
  children: [
    { object: 'client:c1', relation: 'primary_coach', subjects: [{ subject: 'user:rob' }] },
    {
      object: 'client:c1',
      relation: 'organization',
      subjects: [
        {
          subject: 'organization:acme',
          tree: {
            object: 'organization:acme',
            relation: 'admin',
            subjects: [{ subject: 'group:g1#member', tree: { object: 'group:g1', relation: 'member', subjects: [] } }],
          },
        },
      ],
    },
  ],
}

const record = (over: Partial<AuditRecord>): AuditRecord =>
  ({ uid: 'u', at: '2026-01-01T00:00:00Z', source: 'rest', changes: [], zedToken: 't', ...over }) as AuditRecord
const write = (relationship: string) => record({ changes: [{ operation: 'touch', relationship }] })

t.test('the objects a full walk visited: the resource, arrow targets, expanded subject sets', async (t) => {
  t.same([...visitedObjects(tree)!].sort(), ['client:c1', 'group:g1', 'organization:acme'])
  t.equal(visitedObjects({ ...tree, children: [{ object: 'client:c1', relation: 'x', subjects: [], truncated: true }] }), undefined, 'cut short: unknown')
})

t.test('a write may change the holders only where the walk goes', async (t) => {
  const types = new Set(['client', 'organization', 'group', 'user'])
  const visited = visitedObjects(tree)
  t.ok(mayChangeHolders(write('client:c1#primary_coach@user:cara'), types, visited), "the object's own relationships")
  t.ok(mayChangeHolders(write('organization:acme#admin@user:a1'), types, visited), 'its organization')
  t.ok(mayChangeHolders(write('group:g1#member@user:bob'), types, visited), 'a group it names')
  t.notOk(mayChangeHolders(write('organization:globex#admin@user:a1'), types, visited), 'another organization')
  t.notOk(mayChangeHolders(write('client:c2#primary_coach@user:rob'), types, visited), 'another client, though it names the same coach')
  t.notOk(mayChangeHolders(write('course:k1#learner@user:rob'), types, visited), 'a type the permission cannot depend on')
  t.notOk(mayChangeHolders(write('internal_guard:x#holder@client:c1'), new Set([...types, 'internal_guard']), visited), 'internal guards')
  t.ok(mayChangeHolders(write('organization:globex#admin@user:a1'), types, undefined), 'walk unknown: every write of a type it depends on')
  t.ok(mayChangeHolders(record({ deleteFilter: 'organization' }), types, visited), 'a delete by filter lists no relationships')
  t.notOk(mayChangeHolders(record({ deleteFilter: 'course' }), types, visited))
  t.ok(mayChangeHolders(record({ bulk: { kind: 'import', count: 5000, changed: 5000 } }), types, visited), 'an import lists its changes only when few')
})

t.test('the types a permission can depend on, from the schema model', async (t) => {
  const schema = readFileSync(new URL('../../../../schema.zed', import.meta.url), 'utf8')
  const forClient = reachableTypes(schema, 'client')
  t.ok(forClient.has('client') && forClient.has('organization') && forClient.has('user'), [...forClient].join(','))
  const tiny =
    'definition user {}\ndefinition team { relation member: user }\ndefinition doc { relation reader: user | team#member }\ndefinition other { relation x: user }'
  t.same([...reachableTypes(tiny, 'doc')].sort(), ['doc', 'team', 'user'])
  t.same([...reachableTypes(tiny, 'user')], ['user'])
})
