/**
 * `trellis export > file`, `trellis import file`, `trellis reconcile file [--apply]`: the
 * onboarding and backup routes for people. TRELLIS_URL (default http://127.0.0.1:8080) and
 * TRELLIS_API_KEY come from the environment; a progress bar goes to stderr when it is a terminal
 * (progress.ts), the summary always to stderr, the data (an export, an answer) to stdout.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs'
import { Readable } from 'node:stream'
import { Progress, bar, megabytes } from './progress.js'

const base = (process.env.TRELLIS_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '')
const headers: Record<string, string> = process.env.TRELLIS_API_KEY ? { authorization: `Bearer ${process.env.TRELLIS_API_KEY}` } : {}

function fail(message: string, code = 1): never {
  process.stderr.write(`trellis: ${message}\n`)
  process.exit(code)
}

async function answer(res: Response) {
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>
  if (!res.ok) {
    const violations = (body.details as { violations?: { line: number; message: string }[] } | undefined)?.violations
    for (const v of violations ?? []) process.stderr.write(`  line ${v.line}: ${v.message}\n`)
    fail(`${res.status} ${body.code ?? ''}: ${body.message ?? res.statusText}`)
  }
  return body
}

async function exportAll(types?: string) {
  const progress = new Progress()
  const res = await fetch(`${base}/v1/export${types ? `?types=${encodeURIComponent(types)}` : ''}`, { headers })
  if (!res.ok || !res.body) return answer(res)
  let lines = 0
  let bytes = 0
  let last = ''
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const text = Buffer.from(chunk).toString()
    if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r))
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++
    bytes += chunk.length
    last = (last + text).slice(-512)
    progress.update(`exporting: ${lines.toLocaleString('en')} lines, ${megabytes(bytes)}`)
  }
  progress.update(`exporting: ${lines.toLocaleString('en')} lines, ${megabytes(bytes)}, done`, true)
  progress.end()
  const end = last.trim().split('\n').at(-1) ?? ''
  if (!end.includes('"exportedAt"')) fail('the export ended early (no end line): do not use this file')
  const { count, exportedAt } = JSON.parse(end) as { count: number; exportedAt: string }
  process.stderr.write(`exported ${count} relationships at ${exportedAt} (${megabytes(bytes)} in ${progress.elapsed()})\n`)
}

async function importFile(file: string) {
  const size = statSync(file).size
  const progress = new Progress()
  let sent = 0
  const stream = createReadStream(file)
    .on('data', (c) => {
      sent += c.length
      progress.update(`importing: ${bar(sent, size)} ${megabytes(sent)} of ${megabytes(size)} sent`)
    })
    // the gateway judges the whole set, then writes it, before it answers
    .on('end', () => progress.update(`importing: ${bar(size, size)} sent; the gateway is judging and writing`, true))
  const res = await fetch(`${base}/v1/import`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/x-ndjson' },
    body: Readable.toWeb(stream) as ReadableStream,
    duplex: 'half',
  } as RequestInit)
  progress.end()
  const body = await answer(res)
  process.stdout.write(`${JSON.stringify(body)}\n`)
  process.stderr.write(`imported ${body.count} relationships (${body.changed} changed) at ${body.importedAt} in ${progress.elapsed()}\n`)
}

/** the events as a JSON array, `{events: [...]}`, or one event per line */
function readEvents(file: string): unknown[] {
  const text = readFileSync(file, 'utf8').trim()
  try {
    const value = JSON.parse(text) as unknown
    if (Array.isArray(value)) return value
    if (value && typeof value === 'object' && Array.isArray((value as { events?: unknown }).events)) return (value as { events: unknown[] }).events
  } catch {
    // one event per line
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as unknown
      } catch {
        return fail(`${file}: line ${i + 1} is not JSON`)
      }
    })
}

async function reconcileFile(file: string, apply: boolean) {
  const events = readEvents(file)
  const progress = new Progress()
  progress.update(`reconciling: ${events.length.toLocaleString('en')} events sent; the gateway replays and compares them`, true)
  const res = await fetch(`${base}/v1/reconcile`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ events, apply }),
  })
  progress.end()
  const body = (await answer(res)) as { counts: { missing: number; extra: number }; missing: unknown[]; extra: unknown[]; applied?: unknown }
  process.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
  const what = `${body.counts.missing} missing (${body.missing.length} objects), ${body.counts.extra} extra (${body.extra.length} objects)`
  const took = ` (${events.length} events, ${progress.elapsed()})`
  process.stderr.write(
    body.applied ? `applied: ${what}${took}\n` : `dry run: ${what}${took}${body.counts.missing + body.counts.extra ? '; --apply writes the difference' : ''}\n`,
  )
}

const [command, ...args] = process.argv.slice(2)
const flag = (name: string) => {
  const i = args.indexOf(name)
  return i < 0 ? undefined : (args.splice(i, 2)[1] ?? fail(`${name} needs a value`))
}
try {
  if (command === 'export') await exportAll(flag('--types'))
  else if (command === 'import' && args[0]) await importFile(args[0])
  else if (command === 'reconcile' && args.find((a) => !a.startsWith('--')))
    await reconcileFile(
      args.find((a) => !a.startsWith('--'))!,
      args.includes('--apply'),
    )
  else fail('usage: trellis export [--types a,b] > file | trellis import file | trellis reconcile events.json [--apply]', 2)
} catch (err) {
  fail(`cannot reach ${base}: ${(err as Error).message}`)
}
