/**
 * While an import or an applied reconcile runs, other writes wait their turn by being refused:
 * the import was judged on the state it read, and a write landing in between could make the
 * result break an invariant nobody judged (a bulk import carries no preconditions). Refused
 * with 503 GW_IMPORT_RUNNING and Retry-After, so a client or the stream consumer retries later.
 * Asked where a write is about to happen, after its input was judged: a bad request answers
 * 400 naming the field whether an import runs or not (`assertOpen`, in the relationship routes
 * and in the events service).
 * This holds in this process only: replicas do not see each other's imports (docs/onboarding.md).
 */
import { GatewayError } from '../wire/errors.js'

export interface ImportGate {
  /** what is running (`import`, `reconcile`), undefined when nothing is */
  readonly running: string | undefined
  /** runs the work with other writes refused; refuses when one is already running */
  exclusive<T>(what: string, work: () => Promise<T>): Promise<T>
  /** throws the 503 while an import runs */
  assertOpen(): void
}

export const importRunning = (what: string) => {
  const err = new GatewayError(
    'GW_IMPORT_RUNNING',
    503,
    `${what === 'import' ? 'an' : 'a'} ${what} is running on this gateway: writes are refused until it ends; retry shortly`,
  )
  return err
}

export function createImportGate(): ImportGate {
  let running: string | undefined
  return {
    get running() {
      return running
    },
    async exclusive(what, work) {
      if (running) throw importRunning(running)
      running = what
      try {
        return await work()
      } finally {
        running = undefined
      }
    },
    assertOpen() {
      if (running) throw importRunning(running)
    },
  }
}
