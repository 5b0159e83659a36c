/**
 * Small helpers for talking to the gateway through inject in tests.
 */
import type { TestApp } from './app.js'

export async function post<T = any>(app: TestApp, url: string, payload: unknown): Promise<{ status: number; body: T }> {
  const res = await app.inject({ method: 'POST', url, payload: payload as object })
  return { status: res.statusCode, body: res.json() as T }
}

export async function seed(app: TestApp, relationships: string[]): Promise<string> {
  const res = await post<{ writtenAt: string }>(app, '/v1/relationships', {
    updates: relationships.map((relationship) => ({ operation: 'touch', relationship })),
  })
  if (res.status !== 200) throw new Error(`seeding failed: ${JSON.stringify(res.body)}`)
  return res.body.writtenAt
}

export async function allowed(app: TestApp, resource: string, permission: string, subject: string): Promise<boolean> {
  const res = await post<{ allowed: boolean }>(app, '/v1/check', { resource, permission, subject })
  if (res.status !== 200) throw new Error(`check failed: ${JSON.stringify(res.body)}`)
  return res.body.allowed
}
