/**
 * Two gateway replicas configured as a deployment file configures them (its CURSOR_SECRET, or
 * none), over one engine: a lookup cursor issued by the first must be accepted by the second,
 * as a load balancer sends the "Next page" request to whichever replica it likes.
 */
import type { Test } from 'tap'
import { buildTestApp } from './app.js'

export async function cursorAcrossReplicas(t: Test, cursorSecret: string | undefined): Promise<{ status: number; body: string }> {
  const overrides = { cursorSecret }
  const first = await buildTestApp(t, { overrides })
  const second = await buildTestApp(t, { engine: first.engine, overrides })
  const rels = ['organization:acme#owner@user:olga', 'organization:acme#coach@user:rob']
  for (const id of ['ann', 'ben', 'cas']) rels.push(`client:${id}#organization@organization:acme`, `client:${id}#primary@user:rob`)
  const updates = rels.map((relationship) => ({ operation: 'touch', relationship }))
  const wrote = await first.inject({ method: 'POST', url: '/v1/relationships', payload: { updates } })
  t.equal(wrote.statusCode, 200, wrote.body)
  const ask = (app: typeof first, cursor?: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/lookup/resources',
      payload: { resourceType: 'client', permission: 'coach', subject: 'user:rob', limit: 1, cursor },
    })
  const page = await ask(first)
  t.equal(page.statusCode, 200, page.body)
  const cursor = (page.json() as { cursor?: string }).cursor
  t.ok(cursor, 'a full page of one carries a cursor')
  const next = await ask(second, cursor)
  return { status: next.statusCode, body: next.body }
}
