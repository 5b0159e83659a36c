/**
 * Every error code the gateway answers with, and what it means. The API document's `ErrorCode`
 * enum is built from this list (so generated clients get typed errors), and `GatewayError`
 * takes only these codes, so a new code is added here or the build fails.
 * test/error-codes.test.ts also finds every `GW_*` written anywhere in src/ in this list.
 */
export const ERROR_CODES = {
  GW_VALIDATION: 'the request does not match its schema; `field` names the field',
  GW_INVALID_ARGUMENT: 'a value the schema allows but the gateway or the engine refuses',
  GW_INVALID_REFERENCE: 'an object or subject reference that does not parse',
  GW_INVALID_CURSOR: 'a cursor this gateway did not issue for this question',
  GW_INVALID_EVENT: 'an event whose envelope or data does not match its type',
  GW_UNKNOWN_EVENT_TYPE: 'an event type the gateway does not know',
  GW_UNKNOWN_TYPE: 'an object type the schema does not have',
  GW_UNKNOWN_PERMISSION: 'a permission or relation the type does not have',
  GW_UNKNOWN_CAVEAT: 'a caveat the schema does not have',
  GW_UNKNOWN_CONTEXT: 'a context key that is no parameter of any caveat',
  GW_RESERVED_CONTEXT: 'a context key the gateway supplies itself (`now`)',
  GW_SELF_REFERENCE: 'a subject that is the permission being checked',
  GW_TOO_MANY_ITEMS: 'more items in one call than the gateway takes',
  GW_BAD_REQUEST: 'the request is not valid HTTP',
  GW_BAD_URL: 'the request URL is not valid',
  GW_UNAUTHORIZED: 'no credential, or one the gateway does not accept (API key or token)',
  GW_MISSING_SCOPE: 'the caller lacks the scope the route needs',
  GW_FORBIDDEN: 'the event actor lacks the governing permission',
  GW_NOT_FOUND: 'no such route',
  GW_METHOD_NOT_ALLOWED: 'the path exists with other methods (see `allow`)',
  GW_NOT_ACCEPTABLE: 'the Accept header refuses what the route answers',
  GW_REQUEST_TIMEOUT: 'the request was not received in time',
  GW_CLIENT_CLOSED: 'the caller left before the answer',
  GW_PAYLOAD_TOO_LARGE: 'the body is too large',
  GW_HEADERS_TOO_LARGE: 'the request headers are too large',
  GW_UNSUPPORTED_MEDIA_TYPE: 'the body is not plain application/json',
  GW_RATE_LIMITED: 'too many requests (see `retry-after`)',
  GW_ALREADY_EXISTS: 'the object already exists',
  GW_UNKNOWN_OBJECT: 'the object does not exist yet',
  GW_CROSS_ORGANIZATION: 'two objects of different organizations cannot be linked (I7)',
  GW_NOT_A_MEMBER: 'the person is not a member of the organization',
  GW_NOT_CO_AUTHOR_ELIGIBLE: 'the person may not co-author the course (I6)',
  GW_ONE_ROLE: 'a person holds one role there (I4)',
  GW_OWNER_TRANSFER_ONLY: 'ownership changes only by transfer (I2)',
  GW_OWNER_UNTOUCHABLE: 'the owner cannot be removed or demoted (I2)',
  GW_PRIMARY_COACH_OF_CLIENTS: 'the person is the primary coach of clients (I1)',
  GW_PRIMARY_REQUIRED: 'a client has exactly one primary coach (I1)',
  GW_NOT_PAIRABLE: 'no one can be paired with the client (I5)',
  GW_PRECONDITION_FAILED: 'a write precondition did not hold',
  GW_IDEMPOTENCY_CONFLICT: 'an event id already used for a different event',
  GW_RESULT_TOO_LARGE: 'more results than one answer carries',
  GW_ENGINE_UNAVAILABLE: 'the authorization engine did not answer (fail closed; retry)',
  GW_STORE_UNAVAILABLE: 'a required store did not answer (retry)',
  GW_IDENTITY_PROVIDER_UNAVAILABLE: 'the identity provider could not be reached to verify a token (retry)',
  GW_OVERLOADED: 'the gateway sheds load (retry)',
  GW_SHUTTING_DOWN: 'the gateway is shutting down (resend elsewhere)',
  GW_WRITE_CONTENTION: 'the state kept changing under the write (retry)',
  GW_EVENT_IN_PROGRESS: 'another delivery is applying the same event (retry)',
  GW_STREAM_NO_EVENT: 'a stream message without an event field',
  GW_STREAM_INVALID_JSON: 'a stream message whose event is not JSON',
  GW_STREAM_UNACKNOWLEDGED: 'a stream message that kept failing and went to dead letters',
  GW_INTERNAL: 'an internal error; quote `requestId` to operators',
} as const

export type ErrorCode = keyof typeof ERROR_CODES
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[]
export const isErrorCode = (code: unknown): code is ErrorCode => typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
