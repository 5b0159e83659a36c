/**
 * What a key may learn of the relationships: a `check` key hears yes or no, while expand and
 * explain show the relationships behind the answer (a tree, the paths), the reach of a
 * relationship read, so they need `audit`, as relationship reads and the access report do.
 */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

const KEYS = { checker: 'reach-check-0123456789abcdef', auditor: 'reach-audit-0123456789abcdef', admin: 'reach-admin-0123456789abcdef' }
const apiKeys = [`checker:${KEYS.checker}:check`, `auditor:${KEYS.auditor}:audit`, `admin:${KEYS.admin}`]
const as = (name: keyof typeof KEYS) => ({ authorization: `Bearer ${KEYS[name]}` })

const QUESTIONS: [string, object][] = [
  ['/v1/expand', { resource: 'user:ana', permission: 'view_learning_stats' }],
  ['/v1/explain', { resource: 'user:ana', permission: 'view_learning_stats', subject: 'user:mia' }],
]

t.test('a check key gets 403 on expand and explain; an audit key sees the relationship behind the answer', async (t) => {
  const app = await buildTestApp(t, { overrides: { apiKeys } })
  const written = await app.inject({
    method: 'POST',
    url: '/v1/relationships',
    headers: as('admin'),
    payload: { updates: [{ operation: 'touch', relationship: 'user:ana#manager@user:mia' }] },
  })
  t.equal(written.statusCode, 200, written.body)

  const check = await app.inject({ method: 'POST', url: '/v1/check', headers: as('checker'), payload: QUESTIONS[1]![1] })
  t.equal(check.statusCode, 200, 'the check key still checks')
  t.equal(check.json().allowed, true)

  for (const [url, payload] of QUESTIONS) {
    const refused = await app.inject({ method: 'POST', url, headers: as('checker'), payload })
    t.equal(refused.statusCode, 403, `${url}: a check key is refused`)
    t.match(refused.json(), { code: 'GW_MISSING_SCOPE', message: /key checker lacks the scope audit/, details: { required: ['audit'] } })
    t.notMatch(refused.body, /mia/, `${url}: and learns no relationship`)

    const answered = await app.inject({ method: 'POST', url, headers: as('auditor'), payload })
    t.equal(answered.statusCode, 200, `${url}: an audit key is answered`)
    t.match(answered.body, /user:mia/, `${url}: with the relationship behind the answer`)
  }
})
