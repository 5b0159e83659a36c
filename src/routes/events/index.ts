/**
 * POST /v1/events: one event, or `{events: [...]}` applied in order. The body schema documents
 * the discriminated union (an example per type); validation is parseEvent over the same
 * TypeBox schemas, so errors name the field (`events.3.data.clientId`).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { badRequest } from '../../domain/wire/errors.js'
import { DomainEventSchema, EVENT_COMPONENTS } from '../../domain/events/contract/schemas.js'
import { eventsBodyScope } from '../../domain/callers/scopes.js'
import { StringEnum, ZedToken, errorResponses } from '../../schemas/common.js'

const Batch = Type.Object(
  { events: Type.Array(Type.Ref('DomainEvent'), { minItems: 1, description: 'applied in order, each its own atomic write' }) },
  { $id: 'EventBatch', additionalProperties: false },
)

const EventsAnswer = Type.Object({
  results: Type.Array(
    Type.Object({
      id: Type.String(),
      status: StringEnum(['applied', 'duplicate']),
      writtenAt: ZedToken,
    }),
  ),
})

const isBatch = (body: unknown): body is { events: unknown } =>
  typeof body === 'object' && body !== null && !Array.isArray(body) && 'events' in body && !('type' in body)

const routes: FastifyPluginAsyncTypebox<{ maxBatch: number }> = async (app, opts) => {
  for (const schema of EVENT_COMPONENTS) app.addSchema(schema)
  app.addSchema(DomainEventSchema)
  app.addSchema(Batch)
  app.post(
    '/v1/events',
    {
      config: { scope: ['events', 'platform'], bodyScope: eventsBodyScope },
      schema: {
        tags: ['events'],
        summary: 'Apply domain events: each becomes one atomic relationship write, once per id',
        description:
          'A batch is validated whole first (one bad event: 400, nothing written), then applied in order. ' +
          'The first refused event stops the batch: events before it stay applied (the error lists them in ' +
          '`details.results`, with `details.failedIndex`); resending the batch is safe, applied ids answer `duplicate`. ' +
          'When the gateway shuts down, a batch stops at the next event boundary with 503 `GW_SHUTTING_DOWN`: ' +
          '`details.results` were applied, `details.notApplied` lists the ids that were not.',
        body: Type.Union([Type.Ref('DomainEvent'), Type.Ref('EventBatch')]),
        response: { 200: EventsAnswer, 403: Type.Ref('ErrorResponse'), 409: Type.Ref('ErrorResponse'), ...errorResponses },
      },
      // parseEvent validates with the same schemas and names the field at fault.
      validatorCompiler: () => () => true,
    },
    async (req) => {
      const body: unknown = req.body
      // ids are scoped to the API key that sent them
      const options = { keyName: req.caller?.keyName }
      if (!isBatch(body)) return { results: [await app.events.apply(body, options)] }
      const extra = Object.keys(body).find((k) => k !== 'events')
      if (extra !== undefined) throw badRequest(extra, 'is not a field of an event batch', 'GW_INVALID_EVENT')
      if (!Array.isArray(body.events) || body.events.length === 0) throw badRequest('events', 'must be a non-empty array of events', 'GW_INVALID_EVENT')
      if (body.events.length > opts.maxBatch) throw badRequest('events', `at most ${opts.maxBatch} events per call`, 'GW_TOO_MANY_ITEMS')
      return { results: await app.events.applyBatch(body.events, options) }
    },
  )
}

export default routes
