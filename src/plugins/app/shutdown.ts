/**
 * Shutdown as a signal the app's work can watch, `app.shuttingDown`: aborted in preClose, the
 * first step of `app.close()`, while requests in flight still run. Long work (an events batch)
 * stops at its next boundary and answers with what it did, so the process exits within its
 * grace period with every caller told what was applied.
 *
 * Responses sent while shutting down carry `Connection: close`: the server waits for every
 * connection to end, and a keep-alive connection left idle after its last answer would
 * otherwise hold the close until the grace period kills the process.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

declare module 'fastify' {
  interface FastifyInstance {
    /** aborted once the app starts closing */
    shuttingDown: AbortSignal
  }
}

async function shutdownPlugin(app: FastifyInstance) {
  const controller = new AbortController()
  app.decorate('shuttingDown', controller.signal)
  app.addHook('preClose', async () => {
    controller.abort()
    // Connections idle right now would not be told: close them, the busy ones close after their answer.
    app.server.closeIdleConnections?.()
  })
  app.addHook('onSend', async (_req, reply) => {
    if (controller.signal.aborted) reply.header('connection', 'close')
  })
}

export default fp(shutdownPlugin, { name: 'shutdown' })
