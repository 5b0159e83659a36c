/**
 * One TypeBox schema per domain event (domain.md, "Domain events"), each an envelope
 * `{id, type, actor?, occurredAt?, data}` with its own `data`; together a union discriminated
 * by `type`. The same schemas validate (parse.ts), type the translators and document the API.
 */
import Type, { type Static, type TProperties } from 'typebox'
import { ADMIN_PRIVILEGES, COACHING_PERMISSIONS, ORG_ROLES, PAIRING_LEVELS, PROGRAM_GRANTS, PROGRAM_ROLES } from './catalogue.js'
import { EVENT_EXAMPLES, exampleEvent } from './examples.js'

/** SpiceDB's object id grammar, so every id can become a relationship without another check */
export const ID_PATTERN = '^[a-zA-Z0-9/_|\\-=+]{1,1024}$'
const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })
const OneOf = <T extends readonly string[]>(values: T, description: string) => Type.Unsafe<T[number]>(Type.Enum([...values], { description }))
const SetOf = <T extends readonly string[]>(values: T, description: string) =>
  Type.Array(OneOf(values, description), { uniqueItems: true, maxItems: values.length, description: `${description} (replaces the set)` })

export const EventEnvelope = {
  id: Type.String({ minLength: 1, maxLength: 200, description: 'idempotency key: the same id is applied once' }),
  actor: Type.Optional(Type.String({ pattern: '^user:[a-zA-Z0-9/_|\\-=+]{1,1024}$', description: 'who did it; checked against the governing permission' })),
  occurredAt: Type.Optional(Type.String({ format: 'date-time', description: 'when it happened upstream (ISO-8601)' })),
}

function event<T extends keyof typeof EVENT_EXAMPLES, P extends TProperties>(type: T, description: string, data: P) {
  return Type.Object(
    { ...EventEnvelope, type: Type.Literal(type), data: Type.Object(data, { additionalProperties: false }) },
    { additionalProperties: false, title: type, description, examples: [exampleEvent(type)] },
  )
}

const org = Id('organization id')
const user = (d = 'user id') => Id(d)

export const EVENT_SCHEMAS = {
  'organization.created': event('organization.created', 'An organization signs up with its owner', { organizationId: org, ownerId: user('the owner') }),
  'organization.ownership_transferred': event('organization.ownership_transferred', 'Ownership moves; the old owner becomes an admin (I2)', {
    organizationId: org,
    newOwnerId: user('the new owner'),
  }),
  'organization.member_added': event('organization.member_added', 'A person joins with a role (replaces any role they had, I4)', {
    organizationId: org,
    userId: user(),
    role: OneOf(ORG_ROLES, 'organization role'),
  }),
  'organization.member_role_changed': event('organization.member_role_changed', "A member's role is replaced on the spot (I4)", {
    organizationId: org,
    userId: user(),
    role: OneOf(ORG_ROLES, 'organization role'),
  }),
  'organization.member_removed': event('organization.member_removed', 'A person leaves: all their access in the organization goes', {
    organizationId: org,
    userId: user(),
  }),
  'organization.privileges_set': event('organization.privileges_set', "A person's admin privileges become exactly this set", {
    organizationId: org,
    userId: user(),
    privileges: SetOf(ADMIN_PRIVILEGES, 'admin privilege'),
  }),
  'organization.coaching_permissions_set': event('organization.coaching_permissions_set', "A coach's coaching permissions become exactly this set", {
    organizationId: org,
    userId: user(),
    permissions: SetOf(COACHING_PERMISSIONS, 'coaching permission'),
  }),
  'user.deactivated': event('user.deactivated', 'A person is deactivated: every access they had in the organization goes (I8)', {
    organizationId: org,
    userId: user(),
  }),
  'program.created': event('program.created', 'A program is created in an organization', { programId: Id('program id'), organizationId: org }),
  'program.deleted': event('program.deleted', 'A program and every relationship pointing at it go (I7)', { programId: Id('program id') }),
  'program.role_assigned': event('program.role_assigned', "A person's program role becomes this one (replaces any other, I4)", {
    programId: Id('program id'),
    userId: user(),
    role: OneOf(PROGRAM_ROLES, 'program role'),
  }),
  'program.role_revoked': event('program.role_revoked', 'A person loses their program role and team grants', { programId: Id('program id'), userId: user() }),
  'program.grants_set': event('program.grants_set', "A team member's program grants become exactly this set", {
    programId: Id('program id'),
    userId: user(),
    grants: SetOf(PROGRAM_GRANTS, 'program team grant'),
  }),
  'program.group_assigned': event('program.group_assigned', 'A group is assigned to a program', { programId: Id('program id'), groupId: Id('group id') }),
  'section.created': event('section.created', 'A section of program content; locked until releaseAt if given', {
    sectionId: Id('section id'),
    programId: Id('program id'),
    releaseAt: Type.Optional(Type.String({ format: 'date-time', description: 'release moment; absent: released now' })),
  }),
  'client.created': event('client.created', 'A client file is created with its primary coach (I1)', {
    clientId: Id('client id'),
    organizationId: org,
    primaryCoachId: user('the primary coach'),
    userId: Type.Optional(user("the client's own login")),
  }),
  'client.deleted': event('client.deleted', 'A client and every relationship pointing at it go (I7)', { clientId: Id('client id') }),
  'pairing.set': event('pairing.set', "A coach's pairing with a client becomes this level (I1, I5)", {
    clientId: Id('client id'),
    coachId: user('the coach'),
    level: OneOf(PAIRING_LEVELS, 'pairing level'),
  }),
  'group.created': event('group.created', 'A group is created in an organization', { groupId: Id('group id'), organizationId: org }),
  'group.deleted': event('group.deleted', 'A group and every relationship pointing at it go (I7; a Trellis addition)', { groupId: Id('group id') }),
  'group.coach_added': event('group.coach_added', 'A coach joins a group', { groupId: Id('group id'), userId: user() }),
  'group.coach_removed': event('group.coach_removed', 'A coach leaves a group', { groupId: Id('group id'), userId: user() }),
  'group.member_added': event('group.member_added', 'A member joins a group', { groupId: Id('group id'), userId: user() }),
  'group.member_removed': event('group.member_removed', 'A member leaves a group', { groupId: Id('group id'), userId: user() }),
  'course.created': event('course.created', 'A course is authored', { courseId: Id('course id'), organizationId: org, ownerId: user('the author') }),
  'course.co_author_added': event('course.co_author_added', 'A co-author is added (I6)', { courseId: Id('course id'), userId: user() }),
  'course.co_author_removed': event('course.co_author_removed', 'A co-author is removed', { courseId: Id('course id'), userId: user() }),
  'course.ownership_reassigned': event('course.ownership_reassigned', 'A course gets a new owner', {
    courseId: Id('course id'),
    newOwnerId: user('the new owner'),
  }),
  'user.manager_assigned': event('user.manager_assigned', 'A manager supervises a user', { userId: user(), managerId: user('the manager') }),
  'user.manager_removed': event('user.manager_removed', 'A manager no longer supervises a user', { userId: user(), managerId: user('the manager') }),
  'user.coach_nominated': event('user.coach_nominated', 'A learner nominates a coach', { learnerId: user('the learner'), coachId: user('the coach') }),
  'certificate.awarded': event('certificate.awarded', 'A certificate is awarded to a learner', {
    certificateId: Id('certificate id'),
    learnerId: user('the learner'),
  }),
}

export type EventType = keyof typeof EVENT_SCHEMAS
export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[]

/** `organization.created` → `OrganizationCreatedEvent`: its component's name, a class in generated clients */
export const eventSchemaName = (type: EventType) =>
  type
    .split(/[._]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('') + 'Event'

/** One named schema per event type (the route adds them), so generators emit one model each. */
export const EVENT_COMPONENTS = EVENT_TYPES.map((type) => ({ ...EVENT_SCHEMAS[type], $id: eventSchemaName(type) }))

/** The discriminated union of every event, for OpenAPI. */
export const DomainEventSchema = Type.Union(
  EVENT_TYPES.map((type) => Type.Ref(eventSchemaName(type))),
  { $id: 'DomainEvent', description: 'a domain event; `type` picks the shape of `data`' },
)

export type EventOf<T extends EventType> = Static<(typeof EVENT_SCHEMAS)[T]>
export type DomainEvent = { [T in EventType]: EventOf<T> }[EventType]
