/**
 * Two SpiceDB servers on one Postgres database behind one gateway: one server is killed
 * under a load of checks with known answers. Errors are allowed (503 while the gateway
 * notices); wrong answers and allows on error are not.
 * Runs on real servers whenever they can be started, whatever the matrix engine.
 */
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { createEngine, EngineError } from '../../src/engine/index.js'
import { requirePart } from '../helpers/app.js'
import { createDatabase, remoteEnv, remoteParts, startSpiceDb } from '../helpers/engine-remote.js'

const PROGRAMS = 50
const CHECKS = 2000
const CONCURRENCY = 16
const KILL_AT = CHECKS / 2

/** The i-th check and the answer the model gives for it. */
function checkCase(i: number): { payload: { resource: string; permission: string; subject: string }; allowed: boolean } {
  const p = i % PROGRAMS
  const resource = `program:p${p}`
  switch (i % 4) {
    case 0:
      return { payload: { resource, permission: 'run', subject: `user:f${p}` }, allowed: true }
    case 1:
      return { payload: { resource, permission: 'run', subject: `user:u${p}` }, allowed: false }
    case 2:
      return { payload: { resource, permission: 'view', subject: `user:u${p}` }, allowed: true }
    default:
      return { payload: { resource, permission: 'view', subject: `user:f${(p + 1) % PROGRAMS}` }, allowed: false }
  }
}

t.test('the gateway keeps answering correctly when one of two SpiceDB servers is killed under load', async (t) => {
  const parts = remoteParts()
  if ('missing' in parts) return void requirePart(t, parts.missing, false)
  const db = await createDatabase(parts.bin, parts.postgresUrl)
  const a = await startSpiceDb(parts.bin, db.uri)
  const b = await startSpiceDb(parts.bin, db.uri, a.presharedKey)
  const app = await buildApp({ logger: false, config: loadConfig(remoteEnv([a.endpoint, b.endpoint], a.presharedKey)) })
  t.teardown(async () => {
    await app.close()
    await a.kill()
    await b.stop()
    await db.drop()
  })
  t.match(app.engine.description, /2 endpoints/)

  const updates = []
  for (let p = 0; p < PROGRAMS; p++) {
    updates.push(
      { operation: 'touch', relationship: `program:p${p}#facilitator@user:f${p}` },
      { operation: 'touch', relationship: `program:p${p}#participant@user:u${p}` },
    )
  }
  const seeded = await app.inject({ method: 'POST', url: '/v1/relationships', payload: { updates } })
  t.equal(seeded.statusCode, 200, 'relationships written')

  const tally = { ok: 0, wrong: 0, errors: 0, allowOnError: 0, otherStatus: 0, errorsInLastQuarter: 0 }
  let next = 0
  let killed: Promise<void> | undefined
  const started = Date.now()
  const worker = async () => {
    for (let i = next++; i < CHECKS; i = next++) {
      if (i === KILL_AT) killed = a.kill()
      const { payload, allowed } = checkCase(i)
      const res = await app.inject({ method: 'POST', url: '/v1/check', payload })
      const body = res.json() as { allowed?: boolean }
      if (res.statusCode === 200) {
        if (body.allowed === allowed) tally.ok++
        else tally.wrong++
        continue
      }
      if (body.allowed === true) tally.allowOnError++
      if (res.statusCode === 503) tally.errors++
      else tally.otherStatus++
      if (i >= (CHECKS * 3) / 4) tally.errorsInLastQuarter++
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await killed
  const ms = Date.now() - started

  t.comment(
    `failover: ${CHECKS} checks in ${ms} ms, server ${a.endpoint} SIGKILLed at check ${KILL_AT}: ` +
      `${tally.ok} correct, ${tally.wrong} wrong, ${tally.errors} errors (503), ${tally.otherStatus} other statuses, ${tally.allowOnError} allows on error`,
  )
  t.ok(killed, 'a server was killed midway')
  t.equal(tally.wrong, 0, 'no wrong answers')
  t.equal(tally.allowOnError, 0, 'no allow on error')
  t.equal(tally.otherStatus, 0, 'failures are 503s, nothing else')
  t.equal(tally.ok + tally.errors, CHECKS, 'every check was answered or refused')
  t.equal(tally.errorsInLastQuarter, 0, 'the surviving server answers everything once the gateway has noticed')

  // Both down: the gateway refuses, never allows.
  await b.kill()
  const res = await app.inject({ method: 'POST', url: '/v1/check', payload: checkCase(0).payload })
  t.equal(res.statusCode, 503, 'with no server left a check is refused with 503')
  t.not((res.json() as { allowed?: boolean }).allowed, true, 'and is not an allow')
})

t.test('with every endpoint unreachable a check fails as unavailable, never as an answer', async (t) => {
  // Ports nobody listens on: connections are refused at once.
  const engine = await createEngine({
    engine: { kind: 'remote', endpoints: ['127.0.0.1:1', '127.0.0.1:2'], presharedKey: 'k', insecure: true },
    engineTimeoutMs: 2000,
  })
  t.teardown(() => engine.close())
  const item = { resource: { type: 'program', id: 'p1' }, permission: 'run', subject: { type: 'user', id: 'ana' } }
  const err = await engine.check([item], { mode: 'fully_consistent' }).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof EngineError, 'the check is rejected with an EngineError')
  t.equal((err as EngineError).kind, 'unavailable')
})
