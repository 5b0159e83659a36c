/**
 * Helpers for the hostile-input suites: counting the real engine's calls (a wrapper that
 * counts and then delegates, so the answers are still the engine's own) and raw bodies that
 * JSON.stringify cannot write (1e400, nesting thousands deep).
 */
import type { TestApp } from './app.js'

const METHODS = [
  'check',
  'checkWithTrace',
  'lookupResources',
  'lookupSubjects',
  'expand',
  'readRelationships',
  'writeRelationships',
  'deleteRelationships',
] as const

/** Counts every call the app makes to its engine from now on. */
export function countEngineCalls(app: TestApp): { calls: number } {
  const counter = { calls: 0 }
  const engine = app.engine as unknown as Record<string, (...a: unknown[]) => unknown>
  for (const m of METHODS) {
    const real = engine[m]!.bind(engine)
    engine[m] = (...args: unknown[]) => {
      counter.calls++
      return real(...args)
    }
  }
  return counter
}

/** A JSON body with `"@RAW@"` replaced by raw JSON text. */
export function rawBody(body: unknown, raw: string): string {
  return JSON.stringify(body).replace('"@RAW@"', raw)
}

export const deepJson = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`

export async function postRaw(app: TestApp, url: string, payload: string, headers: Record<string, string> = {}) {
  const res = await app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json', ...headers } })
  let body: any
  try {
    body = res.json()
  } catch {
    body = res.body
  }
  return { status: res.statusCode, body }
}
