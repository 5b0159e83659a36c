export { TrellisClient, freshAs } from './client.js'
export type {
  CheckAnswer,
  CheckQuestion,
  Consistency,
  DomainEvent,
  EventResult,
  LookupResourcesQuestion,
  LookupSubjectsQuestion,
  RelationshipFilter,
  ResourceHit,
  SubjectHit,
  TrellisClientOptions,
} from './client.js'
export { ERROR_CODES, TrellisError, isTrellisError, retryAfterSeconds, type ErrorCode } from './errors.js'
export { decide, expressGuard, fastifyGuard, type Decision, type GuardOptions } from './middleware.js'
export type { components, paths } from './openapi.js'
