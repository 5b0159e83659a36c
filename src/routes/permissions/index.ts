import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { allPermissions, publicPermissions } from '../../domain/questions/permissions.js'
import { Consistency, Context, ObjectRefString, Permissionship, SubjectRefString, errorResponses } from '../../schemas/common.js'

const PermissionsAnswer = Type.Object({
  resource: Type.String(),
  subject: Type.String(),
  permissions: Type.Array(
    Type.Object({
      permission: Type.String(),
      allowed: Type.Boolean(),
      permissionship: Permissionship,
      missingContext: Type.Optional(Type.Array(Type.String())),
    }),
    { description: "every public permission of the resource's type, in schema order" },
  ),
  checkedAt: Type.String({ description: 'the ZedToken every answer was read at' }),
})

const routes: FastifyPluginAsyncTypebox = async (app) => {
  // the schema in force is fixed for the app's life (synced at start-up), so index it once
  const byType = publicPermissions(app.schemaText)

  app.post(
    '/v1/permissions',
    {
      config: { scope: 'check' },
      schema: {
        tags: ['questions'],
        summary: 'Everything this subject may do on this resource, in one engine call',
        description:
          "Every permission of the resource's type in the schema in force, except internal ones (names starting with `internal_`, and `pairable`). All answers come from one CheckBulkPermissions call, at one revision.",
        body: Type.Object(
          { resource: ObjectRefString, subject: SubjectRefString, context: Type.Optional(Context), consistency: Type.Optional(Consistency) },
          { additionalProperties: false },
        ),
        response: { 200: PermissionsAnswer, ...errorResponses },
      },
    },
    async (req) => {
      const answer = await allPermissions(app.engine, byType, req.body, app.clock())
      for (const p of answer.permissions) app.metrics.checks.inc({ permissionship: p.permissionship })
      return answer
    },
  )
}

export default routes
