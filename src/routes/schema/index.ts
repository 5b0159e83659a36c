import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { errorResponses } from '../../schemas/common.js'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/schema',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['schema'],
        summary: 'The schema text in force in the engine',
        response: { 200: Type.Object({ schema: Type.String() }), ...errorResponses },
      },
    },
    async () => ({ schema: (await app.engine.readSchema()) ?? '' }),
  )
}

export default routes
