/**
 * What the route schemas cannot say about each operation in the API document: its
 * operationId, what its 200 means, and one complete example that runs as shown in /docs
 * "Try it out" against the business of FIRST_HOUR_EVENTS (the first POST /v1/events example).
 * Examples are set per operation, not taken from the shared field schemas: those give each
 * field alone a plausible value, which together contradict (`resource` and `resourceType`) or
 * are refused (a `cursor` this gateway never issued). test/contract/openapi-examples.test.ts sends every
 * example, in document order, against that business on both engines.
 */
import { EVENT_EXAMPLES, FIRST_HOUR_EVENTS, exampleEvent } from '../../domain/events/contract/examples.js'

export interface OperationDoc {
  operationId: string
  /** the 200 response's description */
  ok: string
  /** the operation's description, or a sentence added to the route's own */
  description?: string
  /** query and header parameters, by name: only these carry an example */
  parameters?: Record<string, string>
  /** the request body, or several named ones (the first is the default in /docs) */
  body?: unknown
  bodies?: Record<string, { summary: string; value: unknown }>
  /** an NDJSON request body (the route reads it as a stream, so no route schema documents it) */
  ndjson?: { description: string; example: string }
  /** descriptions of other statuses where this operation's differ from STATUS_DESCRIPTIONS */
  responses?: Record<string, string>
}

/**
 * Events that run one after another on the first-hour business: creations and assignments
 * first, removals and deletions last, each touching what the ones before it leave in place.
 */
const EVENT_ORDER: (keyof typeof EVENT_EXAMPLES)[] = [
  'organization.created',
  'organization.member_added',
  'organization.member_role_changed',
  'organization.privileges_set',
  'organization.coaching_permissions_set',
  'program.created',
  'program.role_assigned',
  'program.grants_set',
  'program.group_assigned',
  'section.created',
  'client.created',
  'pairing.set',
  'group.created',
  'group.coach_added',
  'group.member_added',
  'course.created',
  'course.co_author_added',
  'course.ownership_reassigned',
  'user.manager_assigned',
  'user.coach_nominated',
  'certificate.awarded',
  'course.co_author_removed',
  'user.manager_removed',
  'group.member_removed',
  'group.coach_removed',
  'program.role_revoked',
  'organization.member_removed',
  'user.deactivated',
  'organization.ownership_transferred',
  'client.deleted',
  'group.deleted',
  'program.deleted',
]

const eventBodies: OperationDoc['bodies'] = {
  'first-hour business': {
    summary:
      'Seed a small coaching business: send this first; every other example in these docs names its people, and the events below run in the order listed',
    value: { events: FIRST_HOUR_EVENTS },
  },
  ...Object.fromEntries(EVENT_ORDER.map((type) => [type, { summary: `One event: ${type}`, value: exampleEvent(type) }])),
}

export const OPERATIONS: Record<string, OperationDoc> = {
  'GET /healthz': {
    operationId: 'liveness',
    ok: 'The process is alive',
    description: 'Liveness: answers while the process serves HTTP, without asking the engine. Open without a key.',
  },
  'GET /readyz': {
    operationId: 'readiness',
    ok: 'Ready: the engine and every required store answer',
    description:
      'Readiness: 200 when the engine and every required store (Redis when configured) answer, 503 naming the one that does not. Open without a key.',
    responses: { '503': 'Not ready: `checks` names what does not answer' },
  },
  'POST /v1/check': {
    operationId: 'check',
    ok: 'The answer, and the revision it was read at',
    body: { resource: 'client:cassandra', permission: 'coach', subject: 'user:rob' },
  },
  'POST /v1/check/bulk': {
    operationId: 'checkBulk',
    ok: 'One answer per item, in the order asked, all read at one revision',
    body: {
      items: [
        { resource: 'client:cassandra', permission: 'view', subject: 'user:jeannine' },
        { resource: 'client:cassandra', permission: 'notify', subject: 'user:rob' },
      ],
    },
  },
  'POST /v1/lookup/resources': {
    operationId: 'lookupResources',
    ok: 'A page of resources; `cursor` when more may follow',
    body: { resourceType: 'client', permission: 'coach', subject: 'user:rob', limit: 50 },
  },
  'POST /v1/lookup/subjects': {
    operationId: 'lookupSubjects',
    ok: 'The subjects that hold the permission',
    body: { resource: 'client:cassandra', permission: 'view', subjectType: 'user' },
  },
  'POST /v1/expand': {
    operationId: 'expand',
    ok: 'The permission tree, subject sets expanded recursively',
    body: { resource: 'client:cassandra', permission: 'view' },
  },
  'POST /v1/explain': {
    operationId: 'explain',
    ok: 'The answer with every path that grants it, or what was tried',
    body: { resource: 'client:cassandra', permission: 'view', subject: 'user:vic' },
  },
  'GET /v1/access-report': {
    operationId: 'accessReport',
    ok: 'Everyone who holds the permission and the paths by which they hold it (JSON, or CSV with format=csv)',
    parameters: { resource: 'client:cassandra', permission: 'view' },
  },
  'GET /v1/access-changes': {
    operationId: 'accessChanges',
    ok: 'Every gain and loss of the permission in the window, in time order, with the write behind each (JSON, or CSV with format=csv)',
    parameters: { resource: 'client:cassandra', permission: 'view' },
  },
  'GET /v1/export': {
    operationId: 'exportRelationships',
    ok: 'Every relationship at one revision as NDJSON, one per line, ending with a line that carries the revision and the count',
  },
  'POST /v1/import': {
    operationId: 'importRelationships',
    ok: 'The whole set was judged against the invariants and written: what changed, and the token of the write',
    // an export's lines: one already there (not changed), one new, and the end line that counts them
    ndjson: {
      description:
        'One `{"relationship", "caveat"?}` per line, as GET /v1/export writes them; the end line `{"exportedAt", "count"}` is optional and checked when present',
      example: [
        '{"relationship":"client:cassandra#primary@user:rob"}',
        '{"relationship":"group:cohort-7#member@user:sam"}',
        '{"exportedAt":"GhUKEzE3NDA4MjMyMDAwMDAwMDAwMDA=","count":2}',
        '',
      ].join('\n'),
    },
  },
  'POST /v1/reconcile': {
    operationId: 'reconcile',
    ok: "The difference between the platform's truth (as events) and the live relationships, by object; with apply=true, written as one judged import",
    // a dry run: the first hour's business as the platform's truth
    body: { events: FIRST_HOUR_EVENTS },
  },
  'POST /v1/permissions': {
    operationId: 'listPermissions',
    ok: 'Every public permission of the resource type, answered at one revision',
    body: { resource: 'client:cassandra', subject: 'user:rob' },
  },
  'GET /v1/relationships': {
    operationId: 'readRelationships',
    ok: 'A page of relationships matching the filter; `cursor` when more may follow',
    parameters: { resource: 'client:cassandra' },
  },
  'GET /v1/schema': { operationId: 'readSchema', ok: 'The schema text in force' },
  'GET /v1/audit': {
    operationId: 'readAudit',
    ok: 'Audit records, oldest first (JSON, or CSV with format=csv); `cursor` when more may follow',
    parameters: { object: 'client:cassandra' },
  },
  'GET /v1/changes': {
    operationId: 'streamChanges',
    ok: 'Server-sent events: `ready`, then one `change` per revision',
    description: 'The feed does not end, so /docs "Try it out" waits without showing it: read it with `curl -N`.',
    parameters: { types: 'client,program' },
  },
  'POST /v1/relationships': {
    operationId: 'writeRelationships',
    ok: 'Written: the ZedToken of the write',
    body: {
      updates: [{ operation: 'touch', relationship: 'client:cassandra#view_only@user:jeannine' }],
      preconditions: [{ operation: 'must_match', filter: { resource: 'organization:acme', relation: 'coach', subject: 'user:jeannine' } }],
    },
  },
  'DELETE /v1/relationships': {
    operationId: 'deleteRelationships',
    ok: 'Deleted: the ZedToken of the delete and how many relationships it removed',
    body: { filter: { resourceType: 'client', resourceId: 'cassandra', relation: 'view_only' } },
  },
  'POST /v1/events': {
    operationId: 'applyEvents',
    ok: 'Each event applied, or a duplicate of one applied before',
    bodies: eventBodies,
  },
}

/** What each refusal means, for every operation that documents it. */
export const STATUS_DESCRIPTIONS: Record<string, string> = {
  '400': 'Invalid input: `field` names the field at fault; nothing changed',
  '401': 'No API key, or one the gateway does not know (only when API_KEYS is set)',
  '403': 'The key lacks the scope, or the event actor lacks the governing permission',
  '406': 'The Accept header does not allow text/event-stream',
  '408': 'The request was not received in time',
  '409': 'A precondition, an invariant or an idempotency conflict refused the write; nothing changed',
  '413': 'The body is too large',
  '415': 'The body is not application/json',
  '422': 'More subjects hold the permission than one answer carries (LOOKUP_SUBJECTS_MAX); ask a narrower question',
  '429': 'Rate limited (see retry-after)',
  '431': 'The request headers are too large',
  '503': 'The engine or a required store did not answer (fail closed: never an allow); `requestId` names the log entry',
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the generated document is untyped JSON
type Json = Record<string, any>
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']

/**
 * Completes the generated document (the swagger plugin's transformObject): every operation
 * gets its operationId, descriptions of its responses and its example. An operation without an
 * entry here is left as generated, so /docs keeps working; test/contract/openapi-examples.test.ts and
 * `npm run lint:openapi` fail on it (no operationId, no example, "Default Response").
 */
export function finishDocument(doc: Json): Json {
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of METHODS.filter((m) => item[m])) {
      const key = `${method.toUpperCase()} ${path}`
      const entry = OPERATIONS[key]
      if (!entry) continue
      const op = item[method] as Json
      op.operationId = entry.operationId
      if (entry.description) op.description = op.description ? `${op.description}\n\n${entry.description}` : entry.description
      for (const [status, response] of Object.entries(op.responses as Json)) {
        const description = status === '200' ? entry.ok : (entry.responses?.[status] ?? STATUS_DESCRIPTIONS[status])
        if (description && (response.description === 'Default Response' || status === '200')) response.description = description
      }
      for (const p of (op.parameters ?? []) as Json[]) {
        delete p.example
        delete p.examples
        if (p.schema) delete p.schema.examples
        const value = entry.parameters?.[p.name]
        if (value !== undefined) p.example = value
      }
      if (entry.ndjson) {
        op.requestBody = {
          required: true,
          content: {
            'application/x-ndjson': { schema: { type: 'string', format: 'binary', description: entry.ndjson.description }, example: entry.ndjson.example },
          },
        }
      }
      const media = op.requestBody?.content?.['application/json'] as Json | undefined
      if (media) {
        delete media.example
        delete media.examples
        if (entry.bodies) media.examples = entry.bodies
        else if (entry.body !== undefined) media.example = entry.body
      }
    }
  }
  return doc
}
