/**
 * Processes for bench:compare: started pinned to cores, stopped, their CPU time and memory read
 * from /proc, and the helpers the systems need (free ports, readiness, binaries, psql).
 */
import { spawn, execFileSync, execFile, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import { CPUS, TICK_MS, env, root } from './settings.js'

export const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true'])
    return true
  } catch {
    return false
  }
})()

export function cpuRange(from: number, count: number): string {
  const lo = Math.min(from, CPUS - 1)
  const hi = Math.min(from + count - 1, CPUS - 1)
  return lo === hi ? `${lo}` : `${lo}-${hi}`
}

const stopping = new Set<ChildProcess>()

/** Spawns a process, pinned to `cpus` when taskset exists. */
export function start(cmd: string, args: string[], cpus: string, extraEnv: Record<string, string | undefined> = {}): ChildProcess {
  const [file, argv] = hasTaskset ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args]
  const child = spawn(file, argv, { cwd: root, env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] })
  let tail = ''
  child.stderr!.on('data', (b: Buffer) => (tail = (tail + b.toString()).slice(-3000)))
  child.once('exit', (code, signal) => {
    if (!stopping.has(child) && (code || signal)) console.error(`${cmd} exited (${code ?? signal}):\n${tail}`)
  })
  return child
}

export async function stop(child: ChildProcess | undefined) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  stopping.add(child)
  child.kill('SIGTERM')
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await new Promise((r) => child.once('exit', r))
  clearTimeout(killer)
}

export async function freePort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as net.AddressInfo
  await new Promise((r) => srv.close(r))
  return port
}

export async function waitFor(what: string, probe: () => Promise<boolean>, seconds = 120) {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    try {
      if (await probe()) return
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not become ready within ${seconds} s`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** CPU time (ms) used so far by a process and its threads. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS
  } catch {
    return 0
  }
}

export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Math.round(Number(m[1]) / 1024) : 0
  } catch {
    return 0
  }
}

/** the given processes and their children (a gateway's workers) */
export function withChildren(pids: number[]): number[] {
  const all = new Set(pids)
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      if (pids.includes(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))) all.add(Number(d))
    } catch {
      // gone meanwhile
    }
  }
  return [...all]
}

/** The pid doing the work: taskset execs its command, so the child's pid is the program's. */
export const pidOf = (c: ChildProcess) => c.pid!

export function whichRedis(): string | undefined {
  try {
    return (
      execFileSync('bash', ['-c', 'command -v redis-server'], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim() || undefined
    )
  } catch {
    return undefined
  }
}

export function spicedbBinary(): string {
  if (env.SPICEDB_BIN) return env.SPICEDB_BIN
  const out = execFileSync('bash', [path.join(root, 'scripts/spicedb-install.sh')], { stdio: ['ignore', 'pipe', 'inherit'] })
  return out.toString().trim().split('\n').at(-1)!
}

export function gatewayCommand(): [string, string[]] {
  const built = path.join(root, 'dist/server.js')
  if (existsSync(built) && env.BENCH_USE_TSX !== '1') return [process.execPath, [built]]
  return [process.execPath, ['--import', 'tsx', path.join(root, 'src/server.ts')]]
}

export const run = promisify(execFile)

export async function psql(url: string, sql: string): Promise<string> {
  const { stdout } = await run('psql', [url, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql])
  return stdout.trim()
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}
