/**
 * TypeBox schemas shared by routes: one definition drives validation, types and OpenAPI.
 */
import Type, { type Static } from 'typebox'
import { PATTERNS } from '../domain/wire/refs.js'
import { ERROR_CODES, ERROR_CODE_LIST, type ErrorCode } from '../domain/wire/error-codes.js'

/**
 * A string of a few values as one `enum` (not TypeBox's `anyOf` of one-value literals, which
 * code generators turn into a class per value).
 */
export const StringEnum = <const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })

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

export const ConsistencySchema = Type.Object(
  {
    mode: StringEnum(['minimize_latency', 'at_least_as_fresh', 'fully_consistent']),
    token: Type.Optional(ZedToken),
  },
  {
    $id: 'Consistency',
    additionalProperties: false,
    description: 'freshness of the answer; absent: fully consistent (no new-enemy problem)',
  },
)
/** a named component, one class in generated clients; app.ts adds the schema */
export const Consistency = Type.Unsafe<Static<typeof ConsistencySchema>>(Type.Ref('Consistency'))

export const Context = Type.Record(Type.String(), Type.Unknown(), {
  description: 'caveat context; `now` is reserved (the gateway supplies its own clock)',
})

export const PERMISSIONSHIPS = ['has_permission', 'no_permission', 'conditional'] as const
/** one named component, so generators emit one enum the check answers share */
export const PermissionshipSchema = StringEnum(PERMISSIONSHIPS, {
  $id: 'Permissionship',
  description: '`conditional`: a caveat lacks context to decide (treat as not allowed)',
})
export const Permissionship = Type.Unsafe<(typeof PERMISSIONSHIPS)[number]>(Type.Ref('Permissionship'))

/** the error codes as one named enum (src/domain/wire/error-codes.ts), for typed errors in clients */
export const ErrorCodeSchema = StringEnum(ERROR_CODE_LIST, {
  $id: 'ErrorCode',
  description: Object.entries(ERROR_CODES)
    .map(([code, meaning]) => `- \`${code}\`: ${meaning}`)
    .join('\n'),
})

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.Unsafe<ErrorCode>(Type.Ref('ErrorCode')),
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
  description:
    'ISO-8601 time: the answer as it was then, read at the revision of the last recorded write at or before it (422 GW_HISTORY_UNAVAILABLE outside what is retained)',
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
