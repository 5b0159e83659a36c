/**
 * The keys callers may present, as `app.apiKeys`: API_KEYS entries and, with API_KEYS_FILE,
 * a file of hashes that is read again when it changes (polled, so the atomic symlink swap of
 * a Kubernetes Secret volume counts too) or on SIGHUP. Keys rotate without a restart: add the
 * new key's line, move callers over, remove the old line. A file that no longer parses keeps
 * the keys in force and logs the line at fault: a typo must not lock every caller out.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import { ConfigError } from '../../config.js'
import { ApiKeyError, findKey, findKeyByHash, mergeKeys, parseKeyEntries, parseKeyFile, type ApiKey } from '../../domain/callers/api-keys.js'

export interface ApiKeyRing {
  /** false when neither API_KEYS nor API_KEYS_FILE is set: the API is open */
  readonly enabled: boolean
  /** the key presented, if it is one of ours */
  find(presented: string): ApiKey | undefined
  /** the key with this SHA-256, if it is still one of ours (long-lived responses re-check with it) */
  findHash(hash: Buffer): ApiKey | undefined
  /** calls `listener` after every reload that changed the keys in force; returns the unsubscribe */
  onChange(listener: () => void): () => void
  /** reads API_KEYS_FILE again; the keys in force stay when it fails */
  reload(): boolean
  /** how many keys are valid now */
  readonly size: number
}

declare module 'fastify' {
  interface FastifyInstance {
    apiKeys: ApiKeyRing
  }
}

export interface ApiKeysOptions {
  /** API_KEYS entries */
  entries: readonly string[]
  /** API_KEYS_FILE */
  file?: string
  /** how often the file is looked at (ms) */
  pollMs?: number
}

function load(entries: readonly string[], file: string | undefined): ApiKey[] {
  const fromEnv = parseKeyEntries(entries)
  // the file's own errors name its line; reading it can fail too (missing, unreadable)
  const fromFile = file ? parseKeyFile(readFileSync(file, 'utf8')) : []
  return mergeKeys(fromEnv, fromFile)
}

async function apiKeysPlugin(app: FastifyInstance, opts: ApiKeysOptions) {
  let keys: ApiKey[]
  try {
    keys = load(opts.entries, opts.file)
  } catch (err) {
    if (err instanceof ApiKeyError) throw new ConfigError(`invalid setting ${err.message}`)
    throw new ConfigError(`invalid setting API_KEYS_FILE: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  const enabled = opts.entries.length > 0 || opts.file !== undefined

  // open feeds re-check their key at once when the ring changes, not at their next tick
  const listeners = new Set<() => void>()
  const reload = (): boolean => {
    try {
      keys = load(opts.entries, opts.file)
      app.log.info({ keys: keys.length }, 'API keys reloaded')
      for (const l of [...listeners]) l()
      return true
    } catch (err) {
      const reason = err instanceof ApiKeyError ? err.message : `API_KEYS_FILE: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`
      app.log.error({ reason }, 'API keys not reloaded; the keys in force stay')
      return false
    }
  }

  app.decorate('apiKeys', {
    enabled,
    find: (presented: string) => findKey(keys, presented),
    findHash: (hash: Buffer) => findKeyByHash(keys, hash),
    onChange(listener: () => void) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    reload,
    get size() {
      return keys.length
    },
  })

  if (!enabled) {
    app.log.warn('API_KEYS is not set: the API accepts unauthenticated callers (fine on a private network only)')
    return
  }
  if (opts.file) {
    const file = opts.file
    const onChange = (now: { mtimeMs: number; ino: number }, before: { mtimeMs: number; ino: number }) => {
      if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino) reload()
    }
    const onHangup = () => reload()
    watchFile(file, { interval: opts.pollMs ?? 2000, persistent: false }, onChange)
    process.on('SIGHUP', onHangup)
    app.addHook('onClose', async () => {
      unwatchFile(file, onChange)
      process.off('SIGHUP', onHangup)
    })
  }
}

export default fp(apiKeysPlugin, { name: 'api-keys' })
