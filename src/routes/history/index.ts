/**
 * GET /v1/access-changes: who gained or lost a permission in a window of time, and through which
 * recorded write (src/domain/audit/access-changes.ts). `asOf` on the questions themselves lives with
 * each question's route; both read the past through `app.history`.
 */
import { clientGone } from '../../plugins/app/client-gone.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { accessChanges, accessChangesRows } from '../../domain/audit/access-changes.js'
import { toCsv } from '../../domain/wire/csv.js'
import { schemaArrows } from '../../domain/schema/arrows.js'
import { AsOf, StringEnum, ObjectRefString, PermissionName, TypeName, ZedToken, errorResponses } from '../../schemas/common.js'
import { Path } from '../../schemas/tree.js'

const Change = Type.Object({
  at: Type.String({ description: 'when the write was recorded' }),
  subject: Type.String(),
  change: StringEnum(['gained', 'lost']),
  via: Type.Array(Path, { description: 'gained: the paths held by after the write; lost: those held by before it' }),
  write: Type.Object({
    id: Type.String({ description: 'the record in the audit trail' }),
    source: Type.String(),
    event: Type.Optional(Type.String({ description: 'the event id' })),
    type: Type.Optional(Type.String({ description: 'the event type' })),
    actor: Type.Optional(Type.String()),
    key: Type.Optional(Type.String({ description: 'the API key name' })),
    token: ZedToken,
  }),
})

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const arrows = schemaArrows(app.schemaText)
  app.get(
    '/v1/access-changes',
    {
      config: { scope: 'audit' },
      schema: {
        tags: ['audit'],
        summary: 'Who gained or lost a permission on an object between two times, and by which write',
        description:
          'The holders compared at each recorded write in the window that touches an object the permission reaches (its own ' +
          'relationships, its organization, the groups and roles it names), so a change that came through the organization ' +
          'shows too, and a write elsewhere is skipped. At most HISTORY_MAX_REVISIONS writes replayed and HISTORY_MAX_SCANNED ' +
          'read per call: `cursor` comes back when the window holds more. 422 GW_HISTORY_UNAVAILABLE when `since` is outside what is retained.',
        querystring: Type.Object(
          {
            resource: ObjectRefString,
            permission: PermissionName,
            since: Type.Optional(
              Type.String({ minLength: 10, maxLength: 40, description: 'ISO-8601 time; absent: the oldest recorded write still within retention' }),
            ),
            until: Type.Optional(AsOf),
            subjectType: Type.Optional(TypeName),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}-[0-9]{1,20}$', description: 'from the previous answer' })),
            format: Type.Optional(StringEnum(['json', 'csv'])),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'JSON; with format=csv, text/csv with one row per path of each change',
            content: {
              'application/json': {
                schema: Type.Object({
                  resource: Type.String(),
                  permission: Type.String(),
                  subjectType: Type.String(),
                  since: Type.String(),
                  until: Type.String(),
                  from: ZedToken,
                  changes: Type.Array(Change),
                  revisions: Type.Integer({ description: 'recorded writes replayed for this answer: those that touch an object the permission reaches' }),
                  scanned: Type.Integer({ description: 'recorded writes read from the trail for this answer, replayed or skipped' }),
                  cursor: Type.Optional(Type.String()),
                }),
              },
              'text/csv': { schema: Type.String({ description: 'at,subject,change,path,write_id,source,event_id,event_type,actor,key,zedtoken' }) },
            },
          },
          422: Type.Ref('ErrorResponse'),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const answer = await accessChanges(app.engine, app.history, app.history.trail, req.query, {
        now: app.clock(),
        schemaText: app.schemaText,
        arrows,
        maxRevisions: app.config.history.maxRevisions,
        maxScanned: app.config.history.maxScanned,
        limits: { signal: clientGone(reply), maxSubjects: app.config.lookupSubjectsMax },
      })
      if (req.query.format !== 'csv') return answer
      if (answer.cursor) reply.header('x-next-cursor', answer.cursor)
      const name = `access-changes-${answer.resource.replace(/[^a-zA-Z0-9_-]/g, '_')}-${answer.permission}.csv`
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`)
        .serializer((p: string) => p)
        .send(toCsv(accessChangesRows(answer)))
    },
  )
}

export default routes
