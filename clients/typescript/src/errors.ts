/**
 * Typed errors: every refusal the gateway answers carries one code of the ErrorCode enum
 * (openapi.yaml), so callers branch on `err.code` with the compiler's help.
 */
import { errorCodeValues, type SchemaErrorCode } from './openapi.js'

export type ErrorCode = SchemaErrorCode
export const ERROR_CODES: readonly ErrorCode[] = errorCodeValues

export class TrellisError extends Error {
  override readonly name = 'TrellisError'
  constructor(
    /** HTTP status; 0: no answer (network failure, timeout) */
    readonly status: number,
    readonly code: ErrorCode | 'CLIENT_NETWORK',
    message: string,
    /** the request field at fault (400s) */
    readonly field?: string,
    readonly details?: Record<string, unknown>,
    /** on 5xx: quote it to the gateway's operators */
    readonly requestId?: string,
    /** seconds the gateway asked to wait (429, 503) */
    readonly retryAfter?: number,
  ) {
    super(message)
  }

  /** worth sending again later: rate limited, unavailable, or no answer at all */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status === 503 || this.status === 502 || this.status === 504
  }
}

/** `isTrellisError(err, 'GW_MISSING_SCOPE')`: a type guard on the code */
export function isTrellisError<C extends ErrorCode>(err: unknown, code?: C): err is TrellisError & { code: C } {
  return err instanceof TrellisError && (code === undefined || err.code === code)
}

/** seconds from a retry-after header (delta-seconds or an HTTP date) */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined
  if (/^\d+$/.test(header.trim())) return Number(header.trim())
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000)
}

export async function errorFrom(res: Response): Promise<TrellisError> {
  const retryAfter = retryAfterSeconds(res.headers.get('retry-after'))
  let body: { code?: string; message?: string; field?: string; details?: Record<string, unknown>; requestId?: string } = {}
  try {
    body = (await res.json()) as typeof body
  } catch {
    // not JSON (a proxy's page): the status says enough
  }
  const code = (ERROR_CODES as readonly string[]).includes(body.code ?? '') ? (body.code as ErrorCode) : 'GW_INTERNAL'
  return new TrellisError(res.status, code, body.message ?? `HTTP ${res.status}`, body.field, body.details, body.requestId, retryAfter)
}
