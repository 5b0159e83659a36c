/**
 * A SpiceDB server restarts under a steady flow of checks: once it serves again, the gateway's
 * checks succeed within 2 s (before the channel options in src/engine/remote.ts, grpc-js's
 * reconnect backoff of 1 s growing 1.6x kept them failing for up to ~4 s after the server was
 * back). While it is down, checks answer 503, never an allow. The measured recovery times are
 * printed. Runs on a real server whenever one can be started, whatever the matrix engine.
 */
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { requirePart } from '../helpers/app.js'
import { createDatabase, remoteEnv, remoteParts, startSpiceDb } from '../helpers/engine-remote.js'

const ROUNDS = 3
const DOWN_MS = 2500

t.test('checks recover within 2 s of a SpiceDB server restart', async (t) => {
  const parts = remoteParts()
  if ('missing' in parts) return void requirePart(t, parts.missing, false)
  const db = await createDatabase(parts.bin, parts.postgresUrl)
  let server = await startSpiceDb(parts.bin, db.uri)
  const port = Number(server.endpoint.split(':')[1])
  const app = await buildApp({ logger: false, config: loadConfig(remoteEnv([server.endpoint], server.presharedKey)) })
  t.teardown(async () => {
    await app.close()
    await server.stop()
    await db.drop()
  })
  const seeded = await app.inject({
    method: 'POST',
    url: '/v1/relationships',
    payload: { updates: [{ operation: 'touch', relationship: 'program:p1#facilitator@user:f1' }] },
  })
  t.equal(seeded.statusCode, 200)

  const tally = { allowed: 0, unavailable: 0, wrong: 0 }
  const check = async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/check', payload: { resource: 'program:p1', permission: 'run', subject: 'user:f1' } })
    if (res.statusCode === 200 && res.json().allowed === true) return void tally.allowed++
    if (res.statusCode === 503) return void tally.unavailable++
    tally.wrong++
  }
  let running = true
  // A steady flow of checks, as in production: every 50 ms, one at a time.
  const flow = (async () => {
    while (running) {
      await check()
      await new Promise((r) => setTimeout(r, 50))
    }
  })()

  const recoveries: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    await server.stop()
    await new Promise((r) => setTimeout(r, DOWN_MS))
    server = await startSpiceDb(parts.bin, db.uri, server.presharedKey, port)
    const up = Date.now()
    const before = tally.allowed
    while (tally.allowed === before && Date.now() - up < 15_000) await new Promise((r) => setTimeout(r, 10))
    recoveries.push(Date.now() - up)
  }
  running = false
  await flow
  t.comment(`recovery after each restart (server serving -> first successful check): ${recoveries.join(', ')} ms`)
  t.comment(`checks: ${tally.allowed} allowed, ${tally.unavailable} answered 503 while the server was down`)
  t.equal(tally.wrong, 0, 'no wrong answer, no allow on error')
  t.ok(tally.unavailable > 0, 'checks failed closed while the server was down')
  for (const [i, ms] of recoveries.entries()) t.ok(ms < 2000, `round ${i + 1}: checks back ${ms} ms after the server`)
})
