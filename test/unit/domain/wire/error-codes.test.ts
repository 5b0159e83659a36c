/** The error catalogue (src/domain/wire/error-codes.ts, errors.ts, events/invariants.ts): one code, one meaning, one status. */
import t from 'tap'
import { ERROR_CODE_LIST, ERROR_CODES, isErrorCode } from '../../../../src/domain/wire/error-codes.js'
import {
  badRequest,
  conflict,
  engineUnavailable,
  forbidden,
  GatewayError,
  InvalidReferenceError,
  resultTooLarge,
  clientClosed,
} from '../../../../src/domain/wire/errors.js'
import { INVARIANT_CODES } from '../../../../src/domain/invariants/rules.js'

t.test('the catalogue', async (t) => {
  t.same(ERROR_CODE_LIST, Object.keys(ERROR_CODES))
  for (const code of ERROR_CODE_LIST) {
    t.match(code, /^GW_[A-Z_]+$/, `${code}: upper case, GW_ prefix`)
    t.ok(ERROR_CODES[code].length > 10, `${code}: says what it means`)
  }
  t.equal(isErrorCode('GW_VALIDATION'), true)
  t.equal(isErrorCode('GW_NOPE'), false)
  t.equal(isErrorCode('toString'), false, 'not an inherited key')
  t.equal(isErrorCode(undefined), false)
  for (const code of Object.keys(INVARIANT_CODES)) t.ok(isErrorCode(code), `${code}: an invariant's code is in the catalogue`)
})

t.test('the helpers answer with their status', async (t) => {
  t.match(badRequest('body.x', 'is wrong'), { code: 'GW_INVALID_ARGUMENT', statusCode: 400, field: 'body.x', message: 'body.x: is wrong' })
  t.match(badRequest('q', 'no', 'GW_INVALID_CURSOR'), { code: 'GW_INVALID_CURSOR', statusCode: 400 })
  t.match(conflict('GW_ONE_ROLE', 'm', { a: 1 }), { code: 'GW_ONE_ROLE', statusCode: 409, details: { a: 1 }, field: undefined })
  t.match(forbidden('no'), { code: 'GW_FORBIDDEN', statusCode: 403 })
  t.match(engineUnavailable(), { code: 'GW_ENGINE_UNAVAILABLE', statusCode: 503 })
  t.match(clientClosed(), { code: 'GW_CLIENT_CLOSED', statusCode: 499 })
  t.match(resultTooLarge(10, 'LOOKUP_SUBJECTS_MAX'), {
    code: 'GW_RESULT_TOO_LARGE',
    statusCode: 422,
    details: { limit: 10, setting: 'LOOKUP_SUBJECTS_MAX' },
    message: /more than 10 .*LOOKUP_SUBJECTS_MAX/,
  })
  const ref = new InvalidReferenceError('body.subject', 'u s', 'a subject')
  t.ok(ref instanceof GatewayError)
  t.match(ref, { code: 'GW_INVALID_REFERENCE', statusCode: 400, field: 'body.subject', message: 'body.subject: "u s" is not a subject', name: 'GatewayError' })
})
