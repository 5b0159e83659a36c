/**
 * Sheds load with 503 before the process drowns: when the event loop stalls or the heap is
 * nearly full, new requests are refused quickly instead of queueing behind the backlog.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import underPressure from '@fastify/under-pressure'
import { GatewayError } from '../../domain/wire/errors.js'

async function underPressurePlugin(app: FastifyInstance) {
  await app.register(underPressure, {
    maxEventLoopDelay: 2000,
    maxEventLoopUtilization: 0.995,
    pressureHandler: () => {
      throw new GatewayError('GW_OVERLOADED', 503, 'the gateway is overloaded; retry shortly')
    },
  })
}

export default fp(underPressurePlugin, { name: 'under-pressure' })
