/**
 * TypeBox schemas shared by routes: one definition drives validation, types and OpenAPI.
 */
import Type from 'typebox'
import { PATTERNS } from '../domain/refs.js'

export const ObjectRefString = Type.String({
  pattern: PATTERNS.object,
  maxLength: 1200,
  description: 'an object, `type:id`',
  examples: ['client:c-17'],
})

export const SubjectRefString = Type.String({
  pattern: PATTERNS.subject,
  maxLength: 1300,
  description: 'a subject, `type:id` or a subject set `type:id#relation`',
  examples: ['user:rob'],
})

export const TypeName = Type.String({ pattern: PATTERNS.type, maxLength: 128, description: 'an object type', examples: ['program'] })
export const PermissionName = Type.String({
  pattern: PATTERNS.relation,
  description: 'a permission or relation name',
  examples: ['view'],
})

export const RelationshipString = Type.String({
  minLength: 5,
  maxLength: 4096,
  description: '`resource#relation@subject`, optionally with `[caveat:{json}]`',
  examples: ['program:p1#facilitator@user:ana'],
})

export const ZedToken = Type.String({ minLength: 1, maxLength: 1024, description: 'a ZedToken returned by an earlier call' })

export const Consistency = Type.Object(
  {
    mode: Type.Union([Type.Literal('minimize_latency'), Type.Literal('at_least_as_fresh'), Type.Literal('fully_consistent')]),
    token: Type.Optional(ZedToken),
  },
  {
    additionalProperties: false,
    description: 'freshness of the answer; absent: fully consistent (no new-enemy problem)',
  },
)

export const Context = Type.Record(Type.String(), Type.Unknown(), {
  description: 'caveat context; `now` is reserved (the gateway supplies its own clock)',
})

export const Permissionship = Type.Union([
  Type.Literal('has_permission'),
  Type.Literal('no_permission'),
  Type.Literal('conditional'),
])

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'stable upper-case error code, e.g. GW_INVALID_REFERENCE' }),
    error: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: 'the request field at fault (400s)' })),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    requestId: Type.Optional(Type.String({ description: 'on 5xx: quote it to operators, who find the cause in the log' })),
  },
  { $id: 'ErrorResponse' },
)

/**
 * Every failure a route can answer with, in one shape: the route's own 400 and 503, and those
 * that come from the door (keys, timeouts, sizes, media types, rate limits).
 */
export const errorResponses = {
  400: Type.Ref('ErrorResponse'),
  401: Type.Ref('ErrorResponse'),
  408: Type.Ref('ErrorResponse'),
  413: Type.Ref('ErrorResponse'),
  415: Type.Ref('ErrorResponse'),
  429: Type.Ref('ErrorResponse'),
  431: Type.Ref('ErrorResponse'),
  503: Type.Ref('ErrorResponse'),
}

/** The body of a single check; explain takes the same question. */
/** a moment of the past to answer at (docs/history.md); not with `consistency` */
export const AsOf = Type.String({
  minLength: 10,
  maxLength: 40,
  description: 'ISO-8601 time: the answer as it was then, read at the revision of the last recorded write at or before it (422 GW_HISTORY_UNAVAILABLE outside what is retained)',
  examples: ['2026-11-03T12:00:00Z'],
})

/** where an `asOf` answer was read: the time asked, the revision, and the recorded write that made it */
export const AsOfAnswer = Type.Object({
  asOf: Type.String(),
  revision: ZedToken,
  writtenAt: Type.String({ description: 'when the write that made this revision was recorded' }),
  writeId: Type.String({ description: 'that write in the audit trail (GET /v1/audit)' }),
})

export const CheckQuestion = Type.Object(
  {
    resource: ObjectRefString,
    permission: PermissionName,
    subject: SubjectRefString,
    context: Type.Optional(Context),
    consistency: Type.Optional(Consistency),
    asOf: Type.Optional(AsOf),
  },
  { additionalProperties: false },
)
