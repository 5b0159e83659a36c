import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { lookupResources, lookupSubjects } from '../../domain/lookup.js'
import {
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
  app.post(
    '/v1/lookup/resources',
    {
      config: { scope: 'check' },
      schema: {
        tags: ['questions'],
        summary: 'Which resources of a type can this subject reach with this permission?',
        body: Type.Object(
          {
            resourceType: TypeName,
            permission: PermissionName,
            subject: SubjectRefString,
            context: Type.Optional(Context),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
            cursor: Type.Optional(Type.String({ minLength: 1, description: 'from the previous page' })),
            consistency: Type.Optional(Consistency),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            resources: Type.Array(Hit),
            cursor: Type.Optional(Type.String({ description: 'present when more results may follow' })),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => lookupResources(app.engine, req.body, app.clock()),
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
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ subjects: Type.Array(Hit) }), ...errorResponses },
      },
    },
    async (req) => lookupSubjects(app.engine, req.body, app.clock()),
  )
}

export default routes
