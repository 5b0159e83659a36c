/**
 * API keys and their scopes, as plain data: parsing the two ways keys are configured
 * (API_KEYS entries, an API_KEYS_FILE of hashes) and finding the key a caller presented.
 * Nothing here knows Fastify. Error messages name the entry or line, never the key.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

export const SCOPES = ['check', 'audit', 'write', 'events', 'platform', 'admin'] as const
export type Scope = (typeof SCOPES)[number]
export const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES)

export interface ApiKey {
  /** stable name: idempotency and audit records are scoped to it, so it survives rotation */
  name: string
  scopes: ReadonlySet<Scope>
  /** SHA-256 of the key; the key itself is not kept */
  hash: Buffer
}

export class ApiKeyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ApiKeyError'
  }
}

export const MIN_KEY_LENGTH = 16
const NAME = /^[A-Za-z0-9_.-]{1,64}$/
const KEY = /^[^\s,:]+$/

export const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/** `check+audit` into a set; `*` or `all` is every scope */
export function parseScopes(text: string, where: string): ReadonlySet<Scope> {
  if (text === '*' || text === 'all') return ALL_SCOPES
  const parts = text.split('+')
  const scopes = new Set<Scope>()
  for (const p of parts) {
    if (!(SCOPES as readonly string[]).includes(p)) {
      throw new ApiKeyError(`${where}: unknown or empty scope (scopes are ${SCOPES.join(', ')}, joined with +; or * for all)`)
    }
    scopes.add(p as Scope)
  }
  return scopes
}

/**
 * One API_KEYS entry: `key` (full access, named after a hash prefix), `name:key` (full access)
 * or `name:key:scope+scope`. Keys are 16+ characters without whitespace, commas or colons.
 */
export function parseKeyEntry(entry: string, index: number): ApiKey {
  const where = `API_KEYS entry ${index + 1}`
  const parts = entry.split(':')
  if (parts.length > 3) throw new ApiKeyError(`${where}: expected key, name:key or name:key:scopes`)
  const [name, key, scopes] = parts.length === 1 ? [undefined, parts[0]!, undefined] : [parts[0]!, parts[1]!, parts[2]]
  if (name !== undefined && !NAME.test(name)) throw new ApiKeyError(`${where}: the name must be 1-64 of A-Z a-z 0-9 _ . -`)
  if (!KEY.test(key) || key.length < MIN_KEY_LENGTH) {
    throw new ApiKeyError(`${where}: the key must be ${MIN_KEY_LENGTH}+ characters without whitespace, commas or colons`)
  }
  const hash = sha256(key)
  return {
    name: name ?? `key-${hash.toString('hex').slice(0, 12)}`,
    scopes: scopes === undefined ? ALL_SCOPES : parseScopes(scopes, where),
    hash,
  }
}

/** API_KEYS as given: comma-separated entries */
export const parseKeyEntries = (entries: readonly string[]): ApiKey[] => distinct(entries.map(parseKeyEntry), 'API_KEYS entries')

/** one key listed twice would have two names and scopes: which one applies would be a guess */
function distinct(keys: ApiKey[], what: string): ApiKey[] {
  const seen = new Map<string, number>()
  keys.forEach((k, i) => {
    const hex = k.hash.toString('hex')
    const before = seen.get(hex)
    if (before !== undefined) throw new ApiKeyError(`${what} ${before + 1} and ${i + 1} are the same key`)
    seen.set(hex, i)
  })
  return keys
}

/**
 * An API_KEYS_FILE: one key per line, `name scopes sha256-hex` (the hash may carry a
 * `sha256:` prefix); blank lines and `#` comments are skipped. Two lines may share a name:
 * that is a rotation in progress, old and new key both valid.
 */
export function parseKeyFile(text: string): ApiKey[] {
  const keys: ApiKey[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim()
    if (!line) return
    const where = `API_KEYS_FILE line ${i + 1}`
    const fields = line.split(/\s+/)
    if (fields.length !== 3) throw new ApiKeyError(`${where}: expected "name scopes sha256-hex"`)
    const [name, scopes, hex] = fields as [string, string, string]
    if (!NAME.test(name)) throw new ApiKeyError(`${where}: the name must be 1-64 of A-Z a-z 0-9 _ . -`)
    const digest = hex.replace(/^sha256:/, '')
    if (!/^[0-9a-fA-F]{64}$/.test(digest)) throw new ApiKeyError(`${where}: the third field must be a SHA-256 in hex (64 digits)`)
    keys.push({ name, scopes: parseScopes(scopes, where), hash: Buffer.from(digest, 'hex') })
  })
  return distinct(keys, 'API_KEYS_FILE keys')
}

/** both sources together; a key in both is refused like a key listed twice */
export const mergeKeys = (env: ApiKey[], file: ApiKey[]): ApiKey[] => distinct([...env, ...file], 'API_KEYS and API_KEYS_FILE keys')

/**
 * The key whose hash matches the presented key, or undefined. Every stored hash is compared,
 * in constant time, whatever matches first: how long this takes says nothing about which
 * keys exist.
 */
export function findKey(keys: readonly ApiKey[], presented: string): ApiKey | undefined {
  return findKeyByHash(keys, sha256(presented))
}

/** findKey for a credential kept only as its hash (an open feed re-checks its key with it) */
export function findKeyByHash(keys: readonly ApiKey[], given: Buffer): ApiKey | undefined {
  let found: ApiKey | undefined
  for (const k of keys) {
    if (timingSafeEqual(k.hash, given) && !found) found = k
  }
  return found
}

/** the `Bearer <key>` credential of an Authorization header, if any */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header ?? '')
  return m?.[1]
}
