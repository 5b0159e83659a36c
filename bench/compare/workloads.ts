/**
 * What the load generator asks: `uniform` walks the distinct random checks once each in turn;
 * `skewed` draws from the same checks with Zipf weights (rank k weighs 1/k^s, s = BENCH_ZIPF_S,
 * 1.1 by default), so a few people and clients take most of the calls, as on a real platform,
 * and beside them a steady stream of writes (one per BENCH_WRITE_EVERY checks: grants and
 * revokes of a view_only pairing, on the hottest clients), each revoke followed by a check of the
 * revoked pair through the same system that must answer denied.
 */
import { COACHES, CLIENTS, prng, type BenchCheck } from '../data.js'
import type { Target, WritePair } from './systems.js'

/** `n` draws of the checks with Zipf weights: rank k (the k-th check of the list) weighs 1/k^s */
export function zipfSample(checks: BenchCheck[], n: number, s: number, seed: number): BenchCheck[] {
  const cdf = new Float64Array(checks.length)
  let sum = 0
  for (let k = 0; k < checks.length; k++) cdf[k] = sum += 1 / Math.pow(k + 1, s)
  const rand = prng(seed)
  const out: BenchCheck[] = []
  for (let i = 0; i < n; i++) {
    const u = rand() * sum
    let lo = 0
    let hi = checks.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid]! < u) lo = mid + 1
      else hi = mid
    }
    out.push(checks[lo]!)
  }
  return out
}

/** share of the draws the `top` most frequent checks take, for the output */
export function topShare(sample: BenchCheck[], top: number): number {
  const counts = new Map<BenchCheck, number>()
  for (const c of sample) counts.set(c, (counts.get(c) ?? 0) + 1)
  const sorted = [...counts.values()].sort((a, b) => b - a)
  return sorted.slice(0, top).reduce((a, b) => a + b, 0) / sample.length
}

/**
 * Clients of the hottest checks, each with a coach of its organization who has no pairing with
 * it (bench/data.ts pairs client c with coaches c and c+7 mod 20), so the grant is the only thing
 * that lets that coach view the client and the revoke must take the view away.
 */
export function writePairs(hot: BenchCheck[], count: number): WritePair[] {
  const out: WritePair[] = []
  const seen = new Set<string>()
  for (const c of hot) {
    if (out.length >= count) break
    if (c.resourceType !== 'client' || seen.has(c.resourceId)) continue
    seen.add(c.resourceId)
    const m = /^o(\d+)-c(\d+)$/.exec(c.resourceId)
    if (!m) continue
    const [o, n] = [Number(m[1]), Number(m[2])]
    if (n >= CLIENTS) continue
    const coach = (n + 3) % COACHES
    out.push({ clientId: c.resourceId, userId: `o${o}-coach${coach}` })
  }
  return out
}

export interface WriteJob {
  every: number
  writers: number
  allowed: string
  pairs: { grant: Call; revoke: Call; check: Call }[]
}
type Call = ReturnType<Target['writes']>['grant']

/** The writes of one skewed scenario: each pair's calls, with event ids no other scenario uses. */
export function writeJob(t: Target, pairs: WritePair[], every: number, writers: number, scenario: string, nonce: string): WriteJob {
  return {
    every,
    writers,
    allowed: t.allowedPattern,
    // a pair is granted and revoked many times in one scenario: event ids must differ each time,
    // so the load generator puts its own counter where a body says __SEQ__
    pairs: pairs.map((p, i) => t.writes(p, `${nonce}-${scenario}-${i}`)),
  }
}
