import { describe, expect, test } from 'vitest'
import { describeFailure, UserFacingError } from './errors'

const configuration = { grafanaUrl: 'https://influx.example', grafanaUserId: '1234567', apiKey: ' glc_secret+key/= ' }

describe('describeFailure', () => {
  test('reports a user-facing message as it is', () => {
    expect(
      describeFailure('Send Metric failed', new UserFacingError('Value must be a finite number.'), configuration)
    ).toBe('Send Metric failed: Value must be a finite number.')
  })

  test('reports an unexpected error with its class and message', () => {
    expect(describeFailure('Send Metric failed', new TypeError('x is not a function'), configuration)).toBe(
      'Send Metric failed: an unexpected error occurred in the integration (TypeError: x is not a function).'
    )
  })

  test('scrubs the API key from an unexpected error in every form it can take', () => {
    const key = configuration.apiKey.trim()
    const basic = Buffer.from(`1234567:${key}`).toString('base64')
    const error = new Error(
      `key ${key}, encoded ${encodeURIComponent(key)}, header Basic ${basic}, typed ${configuration.apiKey}`
    )
    const message = describeFailure('Send Metric failed', error, configuration)
    expect(message).not.toContain('secret')
    expect(message).not.toContain(basic)
    expect(message).toBe(
      'Send Metric failed: an unexpected error occurred in the integration (Error: key ***, encoded ***, header Basic ***, typed ***).'
    )
  })

  test('keeps an unexpected message on one short line', () => {
    const message = describeFailure('x', new Error(`a\nb ${'c'.repeat(400)}`), configuration)
    expect(message).not.toContain('\n')
    expect(message.length).toBeLessThan(400)
  })

  test('names what was thrown when it is not an error', () => {
    expect(describeFailure('x', 42, undefined)).toBe('x: an unexpected error occurred in the integration (number).')
  })
})
