/**
 * Signed page cursors. A lookup cursor carries the clock its listing is judged at (section
 * release depends on it), so a caller who could edit it could choose the time and see content
 * before its release. The cursor is therefore `payload.mac`, an HMAC-SHA256 over the payload
 * with a server secret that every replica shares; a cursor that fails the MAC is refused as
 * bad input, and the clock it carries is never later than the server's own.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { badRequest } from '../wire/errors.js'

export interface CursorPage {
  /** the engine's cursor */
  c: string
  /** the clock of the first page, ISO-8601 */
  n: string
  /** digest of the question the cursor belongs to */
  q: string
}

export class CursorSigner {
  private readonly key: Buffer

  /** `secret` absent: a random key, so cursors die with the process and other replicas refuse them */
  constructor(secret?: string) {
    this.key = secret ? Buffer.from(secret, 'utf8') : randomBytes(32)
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(payload).digest()
  }

  /** A digest of the question a page answers, so a cursor cannot be replayed on another one. */
  static question(parts: unknown[]): string {
    return createHmac('sha256', 'trellis-cursor-question').update(JSON.stringify(parts)).digest('base64url').slice(0, 22)
  }

  sign(page: CursorPage): string {
    const payload = Buffer.from(JSON.stringify(page)).toString('base64url')
    return `${payload}.${this.mac(payload).toString('base64url')}`
  }

  /** Verifies and decodes a cursor; anything forged, edited, or from another question is a 400. */
  open(cursor: string, question: string, now: Date, field = 'cursor'): { c: string; n: Date } {
    const refuse = () => badRequest(field, 'is not a cursor this gateway issued for this question', 'GW_INVALID_CURSOR')
    const dot = cursor.indexOf('.')
    if (dot <= 0 || cursor.length > 8192) throw refuse()
    const payload = cursor.slice(0, dot)
    const given = Buffer.from(cursor.slice(dot + 1), 'base64url')
    const expected = this.mac(payload)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refuse()
    let page: Partial<CursorPage>
    try {
      page = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<CursorPage>
    } catch {
      throw refuse()
    }
    const n = new Date(String(page.n))
    if (typeof page.c !== 'string' || Number.isNaN(n.getTime()) || page.q !== question) throw refuse()
    // Signed by us, but perhaps by a replica whose clock runs ahead: never judge later than now.
    return { c: page.c, n: n.getTime() > now.getTime() ? now : n }
  }
}
