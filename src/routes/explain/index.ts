import { clientGone } from '../../plugins/app/client-gone.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { accessReport, accessReportCsv } from '../../domain/questions/access-report.js'
import { resolveConsistency } from '../../domain/wire/consistency.js'
import { fromEngineError } from '../../domain/wire/engine-errors.js'
import { expandFully } from '../../domain/questions/expand.js'
import { explain } from '../../domain/questions/explain.js'
import { parseObject } from '../../domain/wire/refs.js'
import { schemaArrows } from '../../domain/schema/arrows.js'
import {
  AsOf,
  AsOfAnswer,
  CheckQuestion,
  Consistency,
  ObjectRefString,
  PermissionName,
  Permissionship,
  TypeName,
  ZedToken,
  errorResponses,
  StringEnum,
} from '../../schemas/common.js'
import { Path } from '../../schemas/tree.js'

const Attempt = Type.Object({
  relation: Type.String(),
  result: Type.String(),
  caveat: Type.Optional(Type.Object({ name: Type.String(), result: Type.String(), missing: Type.Optional(Type.Array(Type.String())) })),
})

/**
 * All three show the relationships behind an answer (a tree, paths, who holds it), the reach of
 * a relationship read: so all three need `audit`, not `check`, which answers yes or no only.
 */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  // the links arrows walk, named in trees and paths (src/domain/schema/arrows.ts)
  const arrows = schemaArrows(app.schemaText)

  app.post(
    '/v1/expand',
    {
      config: { scope: 'audit' },
      schema: {
        tags: ['questions'],
        summary: 'The whole tree of who holds a permission, recursively expanded',
        body: Type.Object({ resource: ObjectRefString, permission: PermissionName, consistency: Type.Optional(Consistency) }, { additionalProperties: false }),
        response: { 200: Type.Object({ tree: Type.Ref('ExpandNode'), expandedAt: ZedToken }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const resource = parseObject(req.body.resource, 'resource')
      const consistency = resolveConsistency(req.body.consistency)
      try {
        return await expandFully(app.engine, resource, req.body.permission, consistency, { arrows, signal: clientGone(reply) })
      } catch (err) {
        throw fromEngineError(err, { resource: 'resource', permission: 'permission' })
      }
    },
  )

  app.post(
    '/v1/explain',
    {
      config: { scope: 'audit' },
      schema: {
        tags: ['questions'],
        summary: 'Why a check answers what it does: every path that grants it, or what was tried',
        body: CheckQuestion,
        response: {
          200: Type.Object({
            resource: Type.String(),
            permission: Type.String(),
            subject: Type.String(),
            allowed: Type.Boolean(),
            permissionship: Permissionship,
            checkedAt: ZedToken,
            paths: Type.Array(Path),
            tried: Type.Array(Attempt, { description: 'sorted by relation, so the same question reads the same' }),
            missingContext: Type.Optional(Type.Array(Type.String())),
            holds: Type.Optional(Type.Array(Type.String(), { description: 'when not allowed: the relations the subject does hold on the object' })),
            grantedBy: Type.Optional(Type.String({ description: "when not allowed: the permission's expression in the schema, what would grant it" })),
            asOf: Type.Optional(AsOfAnswer),
          }),
          422: Type.Ref('ErrorResponse'),
          ...errorResponses,
        },
      },
    },
    async (req, reply) =>
      app.history.answer(req.body.asOf, req.body.consistency, (at, then) => explain(app.engine, req.body, then ?? app.clock(), arrows, clientGone(reply), at)),
  )

  app.get(
    '/v1/access-report',
    {
      config: { scope: 'audit' },
      schema: {
        tags: ['questions'],
        summary: 'Everyone who holds a permission on an object, and every path by which they hold it',
        querystring: Type.Object(
          {
            resource: ObjectRefString,
            permission: PermissionName,
            subjectType: Type.Optional(TypeName),
            asOf: Type.Optional(AsOf),
            format: Type.Optional(StringEnum(['json', 'csv'])),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'JSON; with format=csv, text/csv with one row per path',
            content: {
              'application/json': {
                schema: Type.Object({
                  resource: Type.String(),
                  permission: Type.String(),
                  subjectType: Type.String(),
                  subjects: Type.Array(Type.Object({ subject: Type.String(), permissionship: Permissionship, via: Type.Array(Path) })),
                  reportedAt: ZedToken,
                  asOf: Type.Optional(AsOfAnswer),
                }),
              },
              'text/csv': { schema: Type.String({ description: 'subject,permissionship,path; one row per path' }) },
            },
          },
          422: Type.Ref('ErrorResponse'),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const limits = { signal: clientGone(reply), maxSubjects: app.config.lookupSubjectsMax }
      const report = await app.history.answer(req.query.asOf, undefined, (at, then) =>
        accessReport(app.engine, req.query, then ?? app.clock(), arrows, limits, at),
      )
      if (req.query.format !== 'csv') return report
      const when = report.asOf ? `-${report.asOf.asOf.replace(/[^0-9TZ]/g, '')}` : ''
      const name = `access-${report.resource.replace(/[^a-zA-Z0-9_-]/g, '_')}-${report.permission}${when}.csv`
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`)
        .serializer((p: string) => p)
        .send(accessReportCsv(report))
    },
  )
}

export default routes
