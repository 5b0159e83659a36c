/**
 * "May this request go on?" for a service's own HTTP routes: a Fastify preHandler and an
 * Express middleware that let a request through only when a Trellis check allows it. The
 * service says how to read the resource and the subject from its request. Refused: 403; the
 * check could not be made (gateway unreachable, bad reference): 503 or 403. Never a pass.
 * Neither framework is imported: the request and reply are used through the few members named here.
 */
import type { CheckAnswer, Consistency, TrellisClient } from './client.js'
import { TrellisError } from './errors.js'

type Maybe<T> = T | Promise<T>

export interface GuardOptions<Req> {
  /** the object asked about, e.g. (req) => `client:${req.params.id}` */
  resource: (req: Req) => Maybe<string>
  permission: string | ((req: Req) => string)
  /** who asks, e.g. the authenticated user: (req) => `user:${req.user.id}`; undefined refuses */
  subject: (req: Req) => Maybe<string | undefined>
  context?: (req: Req) => Record<string, unknown> | undefined
  consistency?: (req: Req) => Consistency | undefined
  /** told of each decision (allowed or why not), e.g. for the service's log */
  onDecision?: (req: Req, decision: Decision) => void
}

export type Decision =
  { allowed: true; answer: CheckAnswer } | { allowed: false; status: 403 | 503; body: { code: string; message: string }; retryAfter?: number }

export async function decide<Req>(client: TrellisClient, opts: GuardOptions<Req>, req: Req): Promise<Decision> {
  try {
    const subject = await opts.subject(req)
    if (!subject) return { allowed: false, status: 403, body: { code: 'FORBIDDEN', message: 'no subject to check' } }
    const answer = await client.check({
      resource: await opts.resource(req),
      permission: typeof opts.permission === 'function' ? opts.permission(req) : opts.permission,
      subject,
      ...(opts.context?.(req) ? { context: opts.context(req) } : {}),
      ...(opts.consistency?.(req) ? { consistency: opts.consistency(req) } : {}),
    })
    if (answer.allowed) return { allowed: true, answer }
    return { allowed: false, status: 403, body: { code: 'FORBIDDEN', message: 'not allowed' } }
  } catch (err) {
    // a question the gateway refuses (4xx) is the service's bug: still not a pass
    if (err instanceof TrellisError && err.status >= 400 && err.status < 500 && err.status !== 429) {
      return { allowed: false, status: 403, body: { code: 'FORBIDDEN', message: `the check was refused: ${err.code}` } }
    }
    const retryAfter = err instanceof TrellisError ? err.retryAfter : undefined
    return {
      allowed: false,
      status: 503,
      body: { code: 'AUTHORIZATION_UNAVAILABLE', message: 'the permission check could not be made; retry' },
      retryAfter: retryAfter ?? 1,
    }
  }
}

interface FastifyLikeReply {
  code(status: number): FastifyLikeReply
  header(name: string, value: string): FastifyLikeReply
  send(body: unknown): unknown
}

/** A Fastify preHandler: `app.get('/clients/:id', { preHandler: fastifyGuard(trellis, {...}) }, handler)` */
export function fastifyGuard<Req>(client: TrellisClient, opts: GuardOptions<Req>) {
  return async function trellisGuard(req: Req, reply: FastifyLikeReply) {
    const decision = await decide(client, opts, req)
    opts.onDecision?.(req, decision)
    if (decision.allowed) return
    if (decision.retryAfter !== undefined) reply.header('retry-after', String(Math.ceil(decision.retryAfter)))
    return reply.code(decision.status).send(decision.body)
  }
}

interface ExpressLikeResponse {
  statusCode: number
  setHeader(name: string, value: string): unknown
  end(body?: string): unknown
}

/** An Express (or Connect) middleware: `app.get('/clients/:id', expressGuard(trellis, {...}), handler)` */
export function expressGuard<Req>(client: TrellisClient, opts: GuardOptions<Req>) {
  return function trellisGuard(req: Req, res: ExpressLikeResponse, next: (err?: unknown) => void) {
    decide(client, opts, req).then((decision) => {
      opts.onDecision?.(req, decision)
      if (decision.allowed) return next()
      res.statusCode = decision.status
      if (decision.retryAfter !== undefined) res.setHeader('retry-after', String(Math.ceil(decision.retryAfter)))
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(decision.body))
    }, next)
  }
}
