/**
 * Authorization for responses that outlive their request (the changes feed; any later stream).
 * A request is authorized once, when it arrives; a response that streams for hours must be
 * authorized again, or a key removed from API_KEYS_FILE keeps reading (issue 18 item 1).
 *
 * A hold re-checks its credential when the credentials change (the key ring reloaded), every
 * `everyMs` besides (a missed notification, a check that depends on time), and at the moment
 * the credential lapses by itself (`expiresAt`: an OIDC token's `exp`, when those come). The
 * first failed check calls `onLost` once with the reason, and the hold stops.
 *
 * Nothing here knows keys or Fastify: `recheck` says whether the credential still resolves to
 * a caller holding the route's scope (src/plugins/app/auth.ts builds it from the key's hash).
 */
import { GatewayError } from '../wire/errors.js'

export interface Credential {
  /** undefined while the credential still holds the route's scope, else why it no longer does */
  recheck(): GatewayError | undefined
  /** when it lapses by itself (ms since the epoch), e.g. a token's expiry; keys never do */
  expiresAt?: number
  /** subscribes to changes of the credentials (a key ring reload); returns the unsubscribe */
  onChange?(listener: () => void): () => void
}

export interface HoldOptions {
  /** how often to re-check without a notification */
  everyMs: number
  onLost(reason: GatewayError): void
}

const expired = () => new GatewayError('GW_UNAUTHORIZED', 401, 'the credential expired')

/** Starts holding; returns the stop (idempotent). A credential already invalid is reported at once. */
export function holdAuthorization(credential: Credential, opts: HoldOptions): () => void {
  let stopped = false
  const timers: NodeJS.Timeout[] = []
  // assigned once below, after `check` exists; `stop` may run before that
  // eslint-disable-next-line prefer-const
  let unsubscribe: (() => void) | undefined
  const stop = () => {
    if (stopped) return
    stopped = true
    for (const t of timers) clearTimeout(t)
    unsubscribe?.()
  }
  const { expiresAt } = credential
  const check = () => {
    if (stopped) return
    let reason: GatewayError | undefined
    try {
      // past its expiry a credential holds nothing, whatever its own re-check says (a token's
      // re-check looks at its scopes, which do not lapse)
      reason = expiresAt !== undefined && Date.now() >= expiresAt ? expired() : credential.recheck()
    } catch (err) {
      // a check that fails answers "not allowed", never "allowed"
      reason = err as GatewayError
    }
    if (!reason) return
    stop()
    opts.onLost(reason)
  }
  timers.push(setInterval(check, Math.max(10, opts.everyMs)))
  for (const t of timers) t.unref()
  if (expiresAt !== undefined) {
    // a timer may fire a little before the clock reads its time: then it is set again for the rest
    const atExpiry = () => {
      if (stopped) return
      const left = expiresAt - Date.now()
      // setTimeout holds at most 2^31-1 ms; the interval covers anything later
      if (left > 0) timers.push(setTimeout(atExpiry, Math.min(left, 2 ** 31 - 1)).unref())
      else check()
    }
    atExpiry()
  }
  unsubscribe = credential.onChange?.(check)
  check()
  return stop
}
