import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { auditCsv } from '../../domain/audit/query.js'
import { badRequest } from '../../domain/wire/errors.js'
import { parseObject, parseSubject } from '../../domain/wire/refs.js'
import { ObjectRefString, StringEnum, SubjectRefString, errorResponses } from '../../schemas/common.js'

const AuditRecord = Type.Object({
  id: Type.String({ description: 'position in the trail, `<ms>-<seq>`; pass as `cursor` to read on' }),
  at: Type.String({ description: 'when the write was applied (ISO-8601)' }),
  keyName: Type.Optional(Type.String({ description: 'the API key name (never the key); absent for the event stream consumer' })),
  source: Type.String({ description: 'the door: `rest` or `stream` (events), `relationships`, `engine`' }),
  event: Type.Optional(Type.Object({ id: Type.String(), type: Type.String(), actor: Type.Optional(Type.String()) })),
  changes: Type.Array(Type.Object({ operation: Type.String({ description: 'touch, create or delete' }), relationship: Type.String() })),
  deleteFilter: Type.Optional(Type.String({ description: 'a delete by filter: the filter (changes list what matched it just before)' })),
  deletedCount: Type.Optional(Type.Integer()),
  zedToken: Type.String({ description: 'the ZedToken of the write' }),
})

const Time = Type.String({ minLength: 1, maxLength: 40, description: 'ISO-8601 time', examples: ['2026-01-01T00:00:00Z'] })

function time(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) throw badRequest(field, 'is not an ISO-8601 time')
  return ms
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/audit',
    {
      config: { scope: 'audit' },
      schema: {
        tags: ['audit'],
        summary: 'What changed about an object or subject, when, and who did it',
        description:
          'Every applied write (events, relationship writes and deletes) recorded once, oldest first (`order=newest`: newest first). ' +
          'A page reads at most 10,000 records of the trail: when `cursor` comes back, more may follow. ' +
          `Records are kept in Redis (AUDIT_RETENTION_DAYS, AUDIT_MAX_RECORDS) when REDIS_URL is set, in memory otherwise.`,
        querystring: Type.Object(
          {
            object: Type.Optional(ObjectRefString),
            subject: Type.Optional(SubjectRefString),
            actor: Type.Optional(ObjectRefString),
            key: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'an API key name' })),
            since: Type.Optional(Time),
            until: Type.Optional(Time),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}-[0-9]{1,20}$' })),
            limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]{0,2}|1000)$', description: '1 to 1000 (default 100)' })),
            order: Type.Optional(
              StringEnum(['oldest', 'newest'], { description: '`oldest` first (default) or `newest` first; the cursor then reads on towards older records' }),
            ),
            format: Type.Optional(StringEnum(['json', 'csv'])),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'JSON; with format=csv, text/csv with one row per change',
            content: {
              'application/json': { schema: Type.Object({ records: Type.Array(AuditRecord), cursor: Type.Optional(Type.String()) }) },
              'text/csv': {
                schema: Type.String({ description: 'id,at,key,source,event_id,event_type,actor,operation,relationship,zedtoken; one row per change' }),
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const q = req.query
      if (q.object) parseObject(q.object, 'object')
      if (q.subject) parseSubject(q.subject, 'subject')
      const page = await app.audit.query({
        object: q.object,
        subject: q.subject,
        actor: q.actor,
        keyName: q.key,
        sinceMs: time(q.since, 'since'),
        untilMs: time(q.until, 'until'),
        cursor: q.cursor,
        limit: q.limit ? Number(q.limit) : 100,
        newestFirst: q.order === 'newest',
      })
      if (q.format !== 'csv') return page
      if (page.cursor) reply.header('x-next-cursor', page.cursor)
      return reply.type('text/csv; charset=utf-8').send(auditCsv(page.records))
    },
  )
}

export default routes
