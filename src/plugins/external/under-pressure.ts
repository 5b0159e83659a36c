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
    // OVERLOAD_MAX_EVENT_LOOP_DELAY_MS, OVERLOAD_MAX_ELU_PERMILLE (0 turns a bound off)
    maxEventLoopDelay: app.config.overload.maxEventLoopDelayMs,
    maxEventLoopUtilization: app.config.overload.maxEventLoopUtilization,
    pressureHandler: () => {
      throw new GatewayError('GW_OVERLOADED', 503, 'the gateway is overloaded; retry shortly')
    },
  })
}

export default fp(underPressurePlugin, { name: 'under-pressure' })
