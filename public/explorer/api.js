/**
 * Calls to the gateway's /v1 API with the key the person typed. The key lives in
 * sessionStorage only: it goes when the tab closes, and no other site can read it.
 */
const STORE = 'trellis.explorer.key'

export const keyRequired = () => document.body.dataset.keyRequired === 'true'
export const currentKey = () => sessionStorage.getItem(STORE) ?? ''
export const rememberKey = (key) => sessionStorage.setItem(STORE, key)
export const forgetKey = () => sessionStorage.removeItem(STORE)

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `the gateway answered ${status}`)
    this.status = status
    this.code = body?.code
  }
}

async function send(method, path, body, accept) {
  return (await exchange(method, path, body, accept)).text
}

/** The answer's text and headers (the audit CSV says in a header where the next page starts). */
async function exchange(method, path, body, accept) {
  const headers = { accept }
  const key = currentKey()
  if (key) headers.authorization = `Bearer ${key}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  if (!res.ok) {
    let parsed
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = undefined
    }
    throw new ApiError(res.status, parsed)
  }
  return { text, headers: res.headers }
}

const query = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== '')).toString()

// `asOf` (an ISO-8601 time, or undefined for now) on every question: the answer as it was then

export const accessReport = async (resource, permission, asOf) =>
  JSON.parse(await send('GET', `/v1/access-report?${query({ resource, permission, asOf })}`, undefined, 'application/json'))

export const accessReportCsv = (resource, permission, asOf) =>
  send('GET', `/v1/access-report?${query({ resource, permission, asOf, format: 'csv' })}`, undefined, 'text/csv')

export const explain = async (resource, permission, subject, asOf) =>
  JSON.parse(await send('POST', '/v1/explain', { resource, permission, subject, asOf }, 'application/json'))

export const lookupResources = async (subject, resourceType, permission, limit, cursor, asOf) =>
  JSON.parse(await send('POST', '/v1/lookup/resources', { subject, resourceType, permission, limit, cursor, asOf }, 'application/json'))

/** the relationships of an object (`resource=` reads by object, as the API's filter does) */
export const relationships = async (resource, cursor, asOf) =>
  JSON.parse(await send('GET', `/v1/relationships?${query({ resource, limit: '100', cursor, asOf })}`, undefined, 'application/json'))

/** the trail up to `until` (the page's "as of": changes made after it are not shown) */
export const audit = async (object, limit, cursor, order, until) =>
  JSON.parse(await send('GET', `/v1/audit?${query({ object, limit: String(limit), cursor, order, until })}`, undefined, 'application/json'))

/** who gained or lost a permission between two times; each page of at most HISTORY_MAX_REVISIONS writes */
export const accessChanges = async (resource, permission, since, until, cursor) =>
  JSON.parse(await send('GET', `/v1/access-changes?${query({ resource, permission, since, until, cursor })}`, undefined, 'application/json'))

export async function accessChangesCsv(resource, permission, since, until, cursor) {
  const { text, headers } = await exchange(
    'GET',
    `/v1/access-changes?${query({ resource, permission, since, until, cursor, format: 'csv' })}`,
    undefined,
    'text/csv',
  )
  return { csv: text, cursor: headers.get('x-next-cursor') ?? undefined }
}

/** One page of the audit CSV and the cursor of the next (`x-next-cursor`), if the trail goes on. */
export async function auditCsv(object, limit, cursor) {
  const { text, headers } = await exchange('GET', `/v1/audit?${query({ object, limit: String(limit), cursor, format: 'csv' })}`, undefined, 'text/csv')
  return { csv: text, cursor: headers.get('x-next-cursor') ?? undefined }
}

/** Words for a refusal that a person can act on. */
export function explainError(err) {
  if (!(err instanceof ApiError)) return `The gateway could not be reached: ${err.message}`
  // a key was sent and refused: say so, rather than ask for a key the person has just given
  if (err.status === 401 && currentKey()) return 'The gateway does not accept this API key: check it, or enter another above.'
  if (err.status === 401) return 'The gateway needs an API key: enter one above.'
  if (err.status === 403) return `Your key may not ask this: ${err.message}`
  return `${err.message} (${err.code ?? err.status})`
}
