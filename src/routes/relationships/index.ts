import { clientGone } from '../../plugins/app/client-gone.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { deleteRelationships, readRelationships, writeRelationships } from '../../domain/relationships/admin.js'
import { deleteBodyScope, relationshipsReadScope } from '../../domain/callers/scopes.js'
import { parseRelationship } from '../../domain/wire/refs.js'
import {
  AsOf,
  AsOfAnswer,
  ObjectRefString,
  PermissionName,
  RelationshipString,
  SubjectRefString,
  TypeName,
  ZedToken,
  errorResponses,
  StringEnum,
} from '../../schemas/common.js'

/** The engine's ceiling on one read; a read without a limit gets pages of this size. */
const MAX_READ_LIMIT = 1000

const Filter = Type.Object(
  {
    resourceType: Type.Optional(TypeName),
    resourceId: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    resource: Type.Optional(ObjectRefString),
    relation: Type.Optional(PermissionName),
    subject: Type.Optional(SubjectRefString),
  },
  { additionalProperties: false, description: 'resourceType (or resource) is required' },
)

const Preconditions = Type.Array(
  Type.Object(
    {
      operation: StringEnum(['must_match', 'must_not_match']),
      filter: Filter,
    },
    { additionalProperties: false },
  ),
  { maxItems: 100, description: 'SpiceDB preconditions: the write fails with 409 unless each holds' },
)

const INTERNAL_DOC =
  "A resource, subject or precondition of a type the schema marks internal (`internal_*`: the gateway's own write guards) is refused with 403 `GW_INTERNAL_TYPE`, whatever the key's scopes."

const auditMeta = (req: FastifyRequest) => ({ source: 'relationships', keyName: req.caller?.keyName ?? 'anonymous' })

const routes: FastifyPluginAsyncTypebox<{ maxBulkItems: number }> = async (app, opts) => {
  // an import in progress refuses writes, once the input is found valid (bad input: 400 still)
  const gated = { beforeWrite: () => app.importGate.assertOpen() }
  app.get(
    '/v1/relationships',
    {
      config: { scope: 'audit', queryScope: relationshipsReadScope },
      schema: {
        tags: ['relationships'],
        summary: 'Read relationships matching a filter',
        querystring: Type.Object(
          {
            ...Filter.properties,
            // query values arrive as text; bodies are validated without coercion
            limit: Type.Optional(
              Type.String({ pattern: '^([1-9][0-9]{0,2}|1000)$', description: `1 to ${MAX_READ_LIMIT}; absent: pages of ${MAX_READ_LIMIT}` }),
            ),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
            asOf: Type.Optional(AsOf),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ relationships: Type.Array(Type.String()), cursor: Type.Optional(Type.String()), asOf: Type.Optional(AsOfAnswer) }),
          422: Type.Ref('ErrorResponse'),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const { asOf, ...query } = req.query
      return app.history.answer(asOf, undefined, (at) =>
        readRelationships(app.engine, { ...query, limit: query.limit ? Number(query.limit) : MAX_READ_LIMIT }, clientGone(reply), at),
      )
    },
  )

  app.post(
    '/v1/relationships',
    {
      config: { scope: 'write' },
      schema: {
        tags: ['relationships'],
        summary: 'Write relationship updates atomically, optionally guarded by preconditions',
        description: INTERNAL_DOC,
        body: Type.Object(
          {
            updates: Type.Array(
              Type.Object(
                {
                  operation: StringEnum(['touch', 'create', 'delete']),
                  relationship: RelationshipString,
                },
                { additionalProperties: false },
              ),
              { minItems: 1, maxItems: opts.maxBulkItems },
            ),
            preconditions: Type.Optional(Preconditions),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ writtenAt: ZedToken }), 409: Type.Ref('ErrorResponse'), ...errorResponses },
      },
    },
    async (req) => {
      // A caveat context written here outranks a check's own (a written `now` would pin the clock): validated first.
      req.body.updates.forEach((u, i) => {
        const field = `updates.${i}.relationship`
        const caveat = parseRelationship(u.relationship, field).caveat
        if (caveat) app.contextRules.written(caveat.name, caveat.context, field)
      })
      return app.audit.capture(auditMeta(req), () => writeRelationships(app.engine, req.body, gated))
    },
  )

  app.delete(
    '/v1/relationships',
    {
      config: { scope: 'write', bodyScope: deleteBodyScope },
      schema: {
        tags: ['relationships'],
        summary: 'Delete every relationship matching a filter',
        description: INTERNAL_DOC,
        body: Type.Object({ filter: Filter, preconditions: Type.Optional(Preconditions) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ deletedAt: ZedToken, count: Type.Integer() }),
          409: Type.Ref('ErrorResponse'),
          ...errorResponses,
        },
      },
    },
    async (req) => app.audit.capture(auditMeta(req), () => deleteRelationships(app.engine, req.body, gated)),
  )
}

export default routes
