import { clientGone } from '../../plugins/app/client-gone.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { CursorSigner } from '../../domain/questions/cursor.js'
import { MAX_LOOKUP_LIMIT, lookupResources, lookupSubjects } from '../../domain/questions/lookup.js'
import {
  AsOf,
  AsOfAnswer,
  Consistency,
  Context,
  ObjectRefString,
  PermissionName,
  Permissionship,
  SubjectRefString,
  TypeName,
  errorResponses,
} from '../../schemas/common.js'

const Hit = Type.Object({
  id: Type.String(),
  permissionship: Permissionship,
  missingContext: Type.Optional(Type.Array(Type.String())),
})

const routes: FastifyPluginAsyncTypebox = async (app) => {
  if (!app.config.cursorSecret) {
    app.log.warn('CURSOR_SECRET is not set: lookup cursors are signed with a random key, so they do not survive a restart or work on another replica')
  }
  const cursors = new CursorSigner(app.config.cursorSecret)

  app.post(
    '/v1/lookup/resources',
    {
      config: { scope: 'check' },
      schema: {
        tags: ['questions'],
        summary: 'Which resources of a type can this subject reach with this permission?',
        description:
          'Paged: at most `limit` (default and maximum 1000) per page, and a signed `cursor` while more may follow. ' +
          'A page never lists a resource twice; across pages a resource reachable by several paths can appear ' +
          'again (SpiceDB streams one result per path and keeps no state between pages), so merge pages by id.',
        body: Type.Object(
          {
            resourceType: TypeName,
            permission: PermissionName,
            subject: SubjectRefString,
            context: Type.Optional(Context),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LOOKUP_LIMIT, description: `page size; absent: pages of ${MAX_LOOKUP_LIMIT}` })),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 8192, description: 'from the previous page (signed; any edit is refused)' })),
            consistency: Type.Optional(Consistency),
            asOf: Type.Optional(AsOf),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            resources: Type.Array(Hit),
            cursor: Type.Optional(Type.String({ description: 'present when more results may follow' })),
            asOf: Type.Optional(AsOfAnswer),
          }),
          422: Type.Ref('ErrorResponse'),
          ...errorResponses,
        },
      },
    },
    async (req, reply) =>
      // as of a moment, caveats are judged at that moment; a cursor keeps its first page's clock either way
      app.history.answer(req.body.asOf, req.body.consistency, (at, then) =>
        lookupResources(app.engine, req.body, then ?? app.clock(), cursors, clientGone(reply), at, req.body.asOf),
      ),
  )

  app.post(
    '/v1/lookup/subjects',
    {
      config: { scope: 'check' },
      schema: {
        tags: ['questions'],
        summary: 'Which subjects of a type hold this permission on this resource?',
        body: Type.Object(
          {
            resource: ObjectRefString,
            permission: PermissionName,
            subjectType: TypeName,
            context: Type.Optional(Context),
            consistency: Type.Optional(Consistency),
            asOf: Type.Optional(AsOf),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ subjects: Type.Array(Hit), asOf: Type.Optional(AsOfAnswer) }), 422: Type.Ref('ErrorResponse'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const limits = { signal: clientGone(reply), maxSubjects: app.config.lookupSubjectsMax }
      return app.history.answer(req.body.asOf, req.body.consistency, (at, then) => lookupSubjects(app.engine, req.body, then ?? app.clock(), limits, at))
    },
  )
}

export default routes
