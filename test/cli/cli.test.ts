/**
 * `npx trellis` against a real listening gateway: export to a file, import it into a second
 * gateway, reconcile dry run; a refused import exits non-zero naming the line.
 */
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildTestApp } from '../helpers/app.js'
import { ev } from '../helpers/events.js'

const BIN = path.join(import.meta.dirname, '../..', 'bin', 'trellis.mjs')

t.test('export, import and reconcile through the CLI', async (t) => {
  const a = await buildTestApp(t)
  const b = await buildTestApp(t)
  const events = [
    ev('organization.created', { organizationId: 'acme', ownerId: 'olga' }),
    ev('organization.member_added', { organizationId: 'acme', userId: 'rob', role: 'coach' }),
  ]
  t.equal((await a.inject({ method: 'POST', url: '/v1/events', payload: { events } })).statusCode, 200)
  const urlA = await a.listen({ port: 0, host: '127.0.0.1' })
  const urlB = await b.listen({ port: 0, host: '127.0.0.1' })
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-cli-'))

  const exported = await runAsync(urlA, 'export')
  t.equal(exported.status, 0, exported.stderr)
  t.match(exported.stderr, /exported 2 relationships at /)
  const file = path.join(dir, 'backup.ndjson')
  writeFileSync(file, exported.stdout)

  const imported = await runAsync(urlB, 'import', file)
  t.equal(imported.status, 0, imported.stderr)
  t.match(JSON.parse(imported.stdout), { count: 2, changed: 2 })

  const eventsFile = path.join(dir, 'events.json')
  writeFileSync(eventsFile, JSON.stringify(events))
  const dry = await runAsync(urlB, 'reconcile', eventsFile)
  t.equal(dry.status, 0, dry.stderr)
  t.match(dry.stderr, /dry run: 0 missing/)

  // the progress bar, forced on (stderr is a pipe here, where it is off by default)
  t.notMatch(imported.stderr, /\[#/, 'no progress bar when stderr is not a terminal')
  const c = await buildTestApp(t)
  const shown = await runWith({ TRELLIS_PROGRESS: '1' }, await c.listen({ port: 0, host: '127.0.0.1' }), 'import', file)
  t.equal(shown.status, 0, shown.stderr)
  t.match(shown.stderr, /\rimporting: \[#{30}\] 100%.*sent/, 'a bar that reaches 100%')
  t.match(shown.stderr, /\nimported 2 relationships \(2 changed\) at \S+ in \d+\.\d s\n/, 'then the summary on its own line')
  const shownExport = await runWith({ TRELLIS_PROGRESS: '1' }, urlA, 'export')
  t.match(shownExport.stderr, /\rexporting: 3 lines/)
  t.match(shownExport.stderr, /\nexported 2 relationships at \S+ \(0\.0 MB in \d+\.\d s\)\n/)

  const bad = path.join(dir, 'bad.ndjson')
  writeFileSync(bad, '{"relationship":"client:c1#coaching@user:rob"}\n')
  const refused = await runAsync(urlB, 'import', bad)
  t.equal(refused.status, 1)
  t.match(refused.stderr, /line 1: client:c1 belongs to no organization/)
})

/** the CLI as a child process, awaited without blocking this process's event loop */
async function runAsync(url: string, ...args: string[]) {
  return runWith({}, url, ...args)
}

async function runWith(env: Record<string, string>, url: string, ...args: string[]) {
  const { spawn } = await import('node:child_process')
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, TRELLIS_URL: url, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}
