/**
 * Onboarding and backup: GET /v1/export (every relationship at one revision, NDJSON),
 * POST /v1/import (the same NDJSON, judged whole, then bulk-imported or merged) and
 * POST /v1/reconcile (the platform's truth as events, compared with the live state).
 * The domain work is in src/domain/onboarding/import.ts, reconcile.ts and ndjson.ts.
 */
import type { Socket } from 'node:net'
import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { createScratchEngine } from '../../engine/index.js'
import type { AuditMeta } from '../../domain/audit/auditor.js'
import type { RelationshipUpdate } from '../../engine/port.js'
import { badRequest, GatewayError } from '../../domain/wire/errors.js'
import { fromEngineError } from '../../domain/wire/engine-errors.js'
import { exportableTypes, importSet } from '../../domain/onboarding/import.js'
import { NDJSON, formatLine, type LineRules } from '../../domain/onboarding/ndjson.js'
import { reconcile, MAX_LISTED } from '../../domain/onboarding/reconcile.js'
import { indexSchema } from '../../domain/schema/subject-uses.js'
import { clientGone } from '../../plugins/app/client-gone.js'
import { ZedToken, errorResponses } from '../../schemas/common.js'

const DEFAULTS = { importMaxBytes: 1024 ** 3, reconcileMaxBytes: 64 * 1024 ** 2, reconcileMaxEvents: 200_000 }
/** an audit record lists the changes of an applied reconcile up to this many */
const LISTED_CHANGES = 1000

const Line = Type.Object({
  relationship: Type.String(),
  caveat: Type.Optional(Type.Object({ name: Type.String(), context: Type.Optional(Type.Record(Type.String(), Type.Unknown())) })),
})
const Difference = (line: typeof Line | ReturnType<typeof withEvents>) => Type.Array(Type.Object({ object: Type.String(), relationships: Type.Array(line) }))
const withEvents = (l: typeof Line) => Type.Object({ ...l.properties, events: Type.Array(Type.String(), { description: 'ids of the events that wrote it' }) })

const auditMeta = (req: FastifyRequest, kind: 'import' | 'reconcile'): AuditMeta => ({
  source: kind,
  keyName: req.caller?.keyName ?? 'anonymous',
  bulk: { kind, count: 0, changed: 0 },
})

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const limits = { ...DEFAULTS, ...app.config.onboarding }
  const types = exportableTypes(app.schemaText)
  const schema = indexSchema(app.schemaText)
  const rules: LineRules = { schema, caveatContext: (name, context, field) => app.contextRules.written(name, context, field) }

  // The import body is read as a stream, line by line, under its own bound (IMPORT_MAX_BYTES).
  app.addContentTypeParser(NDJSON, (_req, payload, done) => done(null, payload))

  app.get(
    '/v1/export',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['onboarding'],
        summary: 'Every relationship at one revision, as NDJSON, ending with {exportedAt, count}',
        description:
          'Streamed: one `{"relationship", "caveat"?}` per line. Internal types (write guards) are left out: they hold versions, not access, and events recreate them.',
        querystring: Type.Object(
          {
            types: Type.Optional(
              Type.String({ pattern: '^[a-z][a-z0-9_/]*(,[a-z][a-z0-9_/]*)*$', description: 'resource types, comma separated; all when absent' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: { description: 'NDJSON lines', content: { [NDJSON]: { schema: Type.String() } } }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const wanted = req.query.types?.split(',') ?? types
      const unknown = wanted.find((t) => !types.includes(t))
      if (unknown) throw badRequest('types', `${unknown} is not a type this schema lets you export (${types.join(', ')})`)
      const engine = app.engine
      if (!engine.exportRelationships) throw new GatewayError('GW_NOT_SUPPORTED', 501, 'this engine cannot export')
      // the revision is fixed before the answer starts, so a failure here is still a proper 503
      const at = await engine.headToken().catch((err) => Promise.reject(fromEngineError(err)))
      const signal = clientGone(reply)
      async function* lines() {
        let count = 0
        for await (const page of engine.exportRelationships!({ types: [...new Set(wanted)], at, signal })) {
          count += page.length
          yield page.map(formatLine).join('')
        }
        yield `${JSON.stringify({ exportedAt: at, count })}\n`
      }
      reply.type(NDJSON)
      // piped to the socket: a slow reader pauses the engine's stream (Readable backpressure)
      return reply.send(Readable.from(lines(), { objectMode: false, highWaterMark: 64 * 1024 }))
    },
  )

  app.post(
    '/v1/import',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['onboarding'],
        summary: 'Import NDJSON relationships (an export), judged whole against the invariants first',
        description:
          'Content-Type application/x-ndjson, streamed (IMPORT_MAX_BYTES). Into an engine with no relationships: SpiceDB bulk import, one transaction. ' +
          'Into a live one: a merge (touch), `changed` counting what differed. 409 GW_IMPORT_INVARIANT lists the first violations with their lines; nothing is written.',
        response: {
          200: Type.Object({ importedAt: ZedToken, count: Type.Integer(), changed: Type.Integer() }),
          409: Type.Ref('ErrorResponse'),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      if (!req.headers['content-type']?.startsWith(NDJSON)) throw new GatewayError('GW_UNSUPPORTED_MEDIA_TYPE', 415, `send the import as ${NDJSON}`)
      const body = req.body as Readable
      // The upload is bounded by REQUEST_TIMEOUT_MS; after it the socket is quiet while the set
      // is judged and written (a million relationships: a minute or more), which is not idleness.
      // (an injected request's socket has no timeout to lift)
      ;(req.raw.socket as Partial<Pick<Socket, 'setTimeout'>> | undefined)?.setTimeout?.(0)
      const meta = auditMeta(req, 'import')
      return app.importGate.exclusive('import', () =>
        app.audit.capture(meta, async () => {
          const deps = { engine: app.gateway.unaudited, types, rules, maxBytes: limits.importMaxBytes, signal: clientGone(reply) }
          const result = await importSet(deps, body)
          meta.bulk = { kind: 'import', count: result.count, changed: result.changed }
          if (result.changed > 0) await app.audit.note([], result.importedAt)
          return result
        }),
      )
    },
  )

  app.post(
    '/v1/reconcile',
    {
      config: { scope: 'admin' },
      bodyLimit: limits.reconcileMaxBytes,
      schema: {
        tags: ['onboarding'],
        summary: "Compare the live relationships with the platform's truth, sent as the events that create it",
        description: `Dry run unless apply is true. Each list names at most ${MAX_LISTED} relationships (counts has the totals). Body bound: RECONCILE_MAX_BYTES, RECONCILE_MAX_EVENTS.`,
        body: Type.Object(
          {
            events: Type.Array(Type.Unknown(), { maxItems: limits.reconcileMaxEvents, description: 'domain events, replayed in order from nothing' }),
            apply: Type.Optional(Type.Boolean({ default: false })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            missing: Difference(withEvents(Line)),
            extra: Difference(Line),
            counts: Type.Object({ missing: Type.Integer(), extra: Type.Integer() }),
            truncated: Type.Optional(Type.Boolean()),
            applied: Type.Optional(Type.Object({ writtenAt: ZedToken, touched: Type.Integer(), deleted: Type.Integer() })),
          }),
          409: Type.Ref('ErrorResponse'),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const deps = {
        engine: app.gateway.unaudited,
        scratch: () => createScratchEngine(app.schemaText, app.config.engineTimeoutMs),
        schemaText: app.schemaText,
        types,
        clock: app.clock,
        maxEvents: limits.reconcileMaxEvents,
        signal: clientGone(reply),
        // one audit record for the applied difference, its changes listed when few
        applied: async (updates: RelationshipUpdate[], token: string) => {
          meta.bulk = { kind: 'reconcile', count: updates.length, changed: updates.length }
          await app.audit.note(updates.length <= LISTED_CHANGES ? updates : [], token)
        },
      }
      const meta = auditMeta(req, 'reconcile')
      if (!req.body.apply) return reconcile(deps, req.body)
      return app.importGate.exclusive('reconcile', () => app.audit.capture(meta, () => reconcile(deps, req.body)))
    },
  )
}

export default routes
