import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { checkBulk, checkPermission } from '../../domain/questions/check.js'
import { badRequest } from '../../domain/wire/errors.js'
import { EngineError } from '../../engine/port.js'
import {
  AsOfAnswer,
  CheckQuestion,
  Consistency,
  Context,
  ObjectRefString,
  PermissionName,
  Permissionship,
  SubjectRefString,
  ZedToken,
  errorResponses,
} from '../../schemas/common.js'

const CheckAnswer = Type.Object({
  allowed: Type.Boolean(),
  permissionship: Permissionship,
  checkedAt: ZedToken,
  missingContext: Type.Optional(Type.Array(Type.String())),
  asOf: Type.Optional(AsOfAnswer),
})

/** the engine failed the check (its answer is a 4xx or 503, never an allow) */
const engineFailed = (err: unknown) => err instanceof EngineError || (err as { cause?: unknown } | null)?.cause instanceof EngineError

const BulkItem = Type.Object(
  { resource: ObjectRefString, permission: PermissionName, subject: SubjectRefString, context: Type.Optional(Context) },
  { additionalProperties: false },
)

const routes: FastifyPluginAsyncTypebox<{ maxBulkItems: number }> = async (app, opts) => {
  app.post(
    '/v1/check',
    {
      config: { scope: 'check' },
      schema: {
        tags: ['questions'],
        summary: 'May this subject do this on this resource?',
        body: CheckQuestion,
        response: { 200: CheckAnswer, 422: Type.Ref('ErrorResponse'), ...errorResponses },
      },
    },
    async (req) => {
      const answer = await app.history
        .answer(req.body.asOf, req.body.consistency, (at, then) => checkPermission(app.engine, req.body, then ?? app.clock(), at))
        .catch((err: unknown) => {
          if (engineFailed(err)) app.metrics.checks.inc({ permissionship: 'error' })
          throw err
        })
      app.metrics.checks.inc({ permissionship: answer.permissionship })
      return answer
    },
  )

  app.post(
    '/v1/check/bulk',
    {
      config: { scope: 'check' },
      schema: {
        tags: ['questions'],
        summary: 'Many checks in one call, answered in the order asked',
        body: Type.Object({ items: Type.Array(BulkItem, { minItems: 1 }), consistency: Type.Optional(Consistency) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            results: Type.Array(
              Type.Object({
                allowed: Type.Boolean(),
                permissionship: Permissionship,
                missingContext: Type.Optional(Type.Array(Type.String())),
                error: Type.Optional(Type.String()),
              }),
            ),
            checkedAt: ZedToken,
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      if (req.body.items.length > opts.maxBulkItems) {
        throw badRequest('items', `at most ${opts.maxBulkItems} items per call`, 'GW_TOO_MANY_ITEMS')
      }
      const answer = await checkBulk(app.engine, req.body, app.clock(), (err) => app.metrics.engineErrors.inc({ kind: err.kind }))
      // an item the engine failed reads `no_permission` to the caller (fail closed), `error` here
      for (const r of answer.results) app.metrics.checks.inc({ permissionship: r.error ? 'error' : r.permissionship })
      return answer
    },
  )
}

export default routes
