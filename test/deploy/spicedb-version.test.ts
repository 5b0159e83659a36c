/**
 * SpiceDB is pinned in one file, SPICEDB_VERSION. The install script and the test helpers read
 * it; what cannot read a file (Go modules, compose, Kubernetes manifests) is held to it here,
 * so an upgrade is one edit plus whatever this test names.
 */
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'

const root = new URL('../..', import.meta.url).pathname
const read = (file: string) => readFileSync(path.join(root, file), 'utf8')
const VERSION = read('SPICEDB_VERSION').trim()

function files(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = path.join(dir, name)
    return statSync(path.join(root, rel)).isDirectory() ? files(rel) : [rel]
  })
}

t.test('the pin is a release version', async (t) => {
  t.match(VERSION, /^v\d+\.\d+\.\d+$/)
})

t.test('the Go modules that build the server and the library require the pinned release', async (t) => {
  for (const mod of ['tools/spicedb/go.mod', 'tools/spicedb-lib/go.mod']) {
    const required = [...read(mod).matchAll(/^\s*(?:require\s+)?github\.com\/authzed\/spicedb (v\S+)/gm)].map((m) => m[1])
    t.same(required, [VERSION], mod)
  }
})

t.test('every SpiceDB image and operator version in compose and deploy/ is the pinned one', async (t) => {
  const places = ['docker-compose.yml', ...files('deploy').filter((f) => /\.ya?ml$/.test(f))]
  let seen = 0
  for (const file of places) {
    const text = read(file)
    for (const m of text.matchAll(/authzed\/spicedb:(\S+)/g)) {
      seen++
      t.equal(m[1], VERSION, `${file}: image ${m[0]}`)
    }
    for (const m of text.matchAll(/^\s*version:\s*"?(v\d[^\s"]*)"?/gm)) {
      if (!/kind:\s*SpiceDBCluster/.test(text)) continue
      seen++
      t.equal(m[1], VERSION, `${file}: SpiceDBCluster version`)
    }
    for (const m of text.matchAll(/spicedb-migrate-(v[0-9-]+)/g)) t.equal(m[1], VERSION.replaceAll('.', '-'), `${file}: ${m[0]}`)
  }
  t.ok(seen >= 4, `the compose nodes, the plain Deployment, the migrate Job and the operator are all checked (${seen})`)
})

t.test('the scripts read the pin rather than repeat it', async (t) => {
  for (const file of files('scripts').filter((f) => f.endsWith('.sh'))) {
    t.notMatch(read(file), new RegExp(`\\b${VERSION.replaceAll('.', '\\.')}\\b`), `${file} does not repeat ${VERSION}`)
  }
})
