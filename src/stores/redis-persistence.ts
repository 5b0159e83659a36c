/**
 * Will this Redis keep what the gateway puts in it? The events stream, its consumer group's
 * pending lists, the dead-letter stream and the idempotency records all live in Redis; a
 * Redis that restarts without persistence, or evicts keys under memory pressure, loses them
 * without an error anywhere (a restart once lost 4,090 of 4,990 stream events that way).
 *
 * Read with CONFIG GET where it is allowed; managed services often disable CONFIG, and then
 * INFO is the fallback. INFO shows whether AOF is on but not the RDB snapshot schedule, so
 * there an RDB-only Redis cannot be told apart from one that keeps nothing, and is refused.
 */
import type { Redis } from 'ioredis'

export interface RedisPersistence {
  /** where the answer came from */
  source: 'config' | 'info'
  aof: boolean
  /** RDB snapshots scheduled (`save` not empty); undefined when it cannot be read (INFO) */
  rdb: boolean | undefined
  /** maxmemory in bytes; 0 = no limit, nothing is ever evicted */
  maxmemory: number
  maxmemoryPolicy: string
}

const infoField = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim()

async function fromConfig(redis: Redis): Promise<RedisPersistence> {
  const get = async (name: string) => ((await redis.config('GET', name)) as string[])[1] ?? ''
  const [appendonly, save, maxmemory, policy] = await Promise.all(['appendonly', 'save', 'maxmemory', 'maxmemory-policy'].map(get))
  return { source: 'config', aof: appendonly === 'yes', rdb: save!.trim() !== '', maxmemory: Number(maxmemory), maxmemoryPolicy: policy! }
}

async function fromInfo(redis: Redis): Promise<RedisPersistence> {
  const [persistence, memory] = await Promise.all([redis.info('persistence'), redis.info('memory')])
  return {
    source: 'info',
    aof: infoField(persistence, 'aof_enabled') === '1',
    rdb: undefined,
    maxmemory: Number(infoField(memory, 'maxmemory') ?? 0),
    maxmemoryPolicy: infoField(memory, 'maxmemory_policy') ?? 'unknown',
  }
}

/** CONFIG GET, or INFO when CONFIG is disabled or not permitted (renamed command, ACL). */
export async function readPersistence(redis: Redis): Promise<RedisPersistence> {
  try {
    return await fromConfig(redis)
  } catch (err) {
    if (!/unknown command|NOPERM|no permissions|ERR.*CONFIG/i.test((err as Error).message)) throw err
    return fromInfo(redis)
  }
}

/** Why this Redis would lose the stream or the idempotency records; undefined when it keeps them. */
export function persistenceProblem(p: RedisPersistence): string | undefined {
  const problems: string[] = []
  if (!p.aof && p.rdb === false) problems.push('it keeps nothing across a restart (appendonly no, save "")')
  if (!p.aof && p.rdb === undefined) {
    problems.push('its persistence cannot be confirmed: CONFIG is not available and INFO shows no AOF (aof_enabled:0)')
  }
  // volatile-* policies evict keys with a TTL, which every idempotency record has.
  if (p.maxmemory > 0 && p.maxmemoryPolicy !== 'noeviction') {
    problems.push(`it may evict keys under memory pressure (maxmemory-policy ${p.maxmemoryPolicy})`)
  }
  return problems.length > 0 ? problems.join('; and ') : undefined
}

/** A caution for a Redis that persists, but not every write. */
export function persistenceCaution(p: RedisPersistence): string | undefined {
  if (!p.aof && p.rdb) return 'Redis persists by RDB snapshots only: a crash loses the writes since the last snapshot; prefer appendonly yes'
  return undefined
}

export const PERSISTENCE_ADVICE =
  'Turn on AOF (appendonly yes, appendfsync everysec) or RDB snapshots (save), with maxmemory-policy noeviction, ' +
  'or accept the loss with REDIS_ALLOW_DATA_LOSS=true'
