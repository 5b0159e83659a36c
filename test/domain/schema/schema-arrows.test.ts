/**
 * Naming the relation an arrow walks (src/domain/schema/arrows.ts), which expand, explain and
 * the access report use to show the link an access depends on.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { schemaArrows } from '../../../src/domain/schema/arrows.js'

t.test('the project schema: each arrow found by the permission and the object it reaches', async (t) => {
  const arrows = schemaArrows(readFileSync(new URL('../../../schema.zed', import.meta.url), 'utf8'))
  t.equal(arrows.tuplesetOf('client', 'view', 'organization', 'can_view_all_clients'), 'organization')
  t.equal(arrows.tuplesetOf('client', 'view'), 'organization', 'every arrow in client#view walks organization')
  t.equal(arrows.tuplesetOf('program', 'view_stats', 'group', 'internal_coach'), 'assigned_group')
  t.equal(arrows.tuplesetOf('program', 'view_stats', 'organization', 'view_all_analytics'), 'organization')
  t.equal(arrows.tuplesetOf('program', 'view_stats'), undefined, 'two relations: no guess without the object')
  t.equal(arrows.tuplesetOf('section', 'view', 'program', 'view'), 'release')
  t.equal(arrows.tuplesetOf('section', 'view', 'program', 'view_locked_content'), 'program')
  t.equal(arrows.tuplesetOf('client', 'primary'), undefined, 'a relation has no arrows')
  t.equal(arrows.tuplesetOf('client', 'view', 'organization', 'administer'), undefined, 'not an arrow of client#view')
})

t.test('ambiguous arrows are left unnamed', async (t) => {
  const arrows = schemaArrows(`
    definition user {}
    definition folder {
      relation parent: folder
      relation shared_from: folder | user
      relation viewer: user
      // comments are ignored: permission view = bogus->view
      permission view = viewer + parent->view + shared_from.any(view)
      permission browse = parent->view
    }`)
  t.equal(arrows.tuplesetOf('folder', 'view', 'folder', 'view'), undefined, 'parent or shared_from: unknown')
  t.equal(arrows.tuplesetOf('folder', 'view', 'user', 'view'), 'shared_from', 'only shared_from names users')
  t.equal(arrows.tuplesetOf('folder', 'browse', 'folder', 'view'), 'parent')
})
