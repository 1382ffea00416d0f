import { describe, expect, test } from 'vitest'
import { parseWith } from './parse'
import { configurationSchema, sendMetricInputSchema } from './schemas'

describe('parseWith', () => {
  test('words a refusal with zui, naming each field', () => {
    expect(() => parseWith('Invalid input', sendMetricInputSchema, { name: 3, value: null })).toThrow(
      'Invalid input: name: Expected string, received number; value: must be a finite number or numeric text, e.g. 250.5'
    )
  })

  test('refuses an own __proto__ key anywhere, which zod would drop without a word', () => {
    expect(() =>
      parseWith('Invalid input', sendMetricInputSchema, JSON.parse('{"name":"x","tags":{"__proto__":"y"}}'))
    ).toThrow('Invalid input: tags.__proto__: names starting with __ are reserved.')
  })

  test('returns the parsed value with the defaults applied', () => {
    expect(
      parseWith('Invalid configuration', configurationSchema, { grafanaUrl: 'u', grafanaUserId: '1', apiKey: 'k' })
    ).toStrictEqual({
      grafanaUrl: 'u',
      grafanaUserId: '1',
      apiKey: 'k',
      includeConversationAndUserIds: false,
      logEveryEvent: false
    })
  })
})
