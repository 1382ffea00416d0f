import { describe, expect, test } from 'vitest'
import { buildMetricEvent, type MetricContext } from './metric'
import { parseWith } from './parse'
import type { SendMetricInput } from './schemas'
import { sendMetricInputSchema } from './schemas'

const context: MetricContext = { botId: 'bot-from-ctx', includeConversationAndUserIds: true }
const T = 1_700_000_000_123
const I = '0a1b2c3d4e5f6'

const build = (input: Partial<SendMetricInput> & { name: string }, ctx: MetricContext = context) =>
  buildMetricEvent(parseWith('Invalid input', sendMetricInputSchema, input), ctx, { instance: I, timestamp: T })

describe('Send Metric line', () => {
  test('carries every built-in label and the instance, sorted, with value 1 and the millisecond timestamp', () => {
    const event = build({
      name: 'flow_completed',
      channel: 'webchat',
      botId: 'bot-1',
      conversationId: 'conv-1',
      userId: 'user-1',
      version: '1.4.2'
    })
    expect(event.line).toBe(
      `flow_completed,botId=bot-1,channel=webchat,conversationId=conv-1,instance=${I},userId=user-1,version=1.4.2 metric=1 1700000000123`
    )
    expect(event.seriesName).toBe('flow_completed_metric')
    expect(event.labels).toEqual({
      botId: 'bot-1',
      channel: 'webchat',
      conversationId: 'conv-1',
      instance: I,
      userId: 'user-1',
      version: '1.4.2'
    })
    expect(event.timestamp).toBe(T)
  })

  test('has no per-event unique label: two calls of one instance differ only in their timestamp', () => {
    const input = parseWith('Invalid input', sendMetricInputSchema, { name: 'x', channel: 'web' })
    const a = buildMetricEvent(input, context, { instance: I, timestamp: T })
    const b = buildMetricEvent(input, context, { instance: I, timestamp: T + 1 })
    expect(b.line).toBe(a.line.replace(/ \d+$/u, ` ${T + 1}`))
    expect(b.labels).toEqual(a.labels)
  })

  test('sanitises the name like Grafana and reports the stored series', () => {
    const event = build({ name: 'checkout.done-1' })
    expect(event.line.startsWith('checkout_done_1,')).toBe(true)
    expect(event.seriesName).toBe('checkout_done_1_metric')
    expect(build({ name: '2fa_passed' }).seriesName).toBe('_2fa_passed_metric')
  })

  test.each([
    ['a space', 'flow completed', 'U+0020'],
    ['a tab', 'flow\tcompleted', 'U+0009'],
    ['a newline', 'flow\ncompleted', 'U+000A'],
    ['a no-break space', 'flow\u00a0completed', 'U+00A0'],
    ['an ideographic space', 'flow\u3000completed', 'U+3000'],
    ['a line separator', 'flow\u2028completed', 'U+2028'],
    ['NEL', 'flow\u0085completed', 'U+0085'],
    ['a trailing space', 'flow ', 'U+0020']
  ])('refuses a name with %s', (_, name, code) => {
    expect(() => build({ name })).toThrow(
      new RegExp(`must not contain whitespace \\(found ${code.replace('+', '\\+')}`)
    )
  })

  test('refuses an empty name', () => {
    expect(() => build({ name: '' })).toThrow(/Metric name is empty/)
  })

  test('refuses a name whose series would exceed 2048 bytes', () => {
    expect(() => build({ name: 'a'.repeat(2042) })).toThrow(/too long/)
    expect(build({ name: 'a'.repeat(2041) }).seriesName).toHaveLength(2048)
  })

  test('falls back to the bot running the card when botId is empty or unrendered', () => {
    expect(build({ name: 'x', botId: '' }).labels.botId).toBe('bot-from-ctx')
    expect(build({ name: 'x' }).labels.botId).toBe('bot-from-ctx')
    expect(build({ name: 'x', botId: '{{event.botId}}' }).labels.botId).toBe('bot-from-ctx')
  })

  test('omits empty values and Studio templates that were never rendered', () => {
    const event = build({
      name: 'x',
      channel: '',
      conversationId: '{{event.conversationId}}',
      userId: ' {{ event.userId }} '
    })
    expect(event.labels).toEqual({ botId: 'bot-from-ctx', instance: I })
    expect(event.line).toBe(`x,botId=bot-from-ctx,instance=${I} metric=1 ${T}`)
  })

  test('leaves conversation and user IDs out when configured to', () => {
    const event = build(
      { name: 'x', conversationId: 'c', userId: 'u', channel: 'web' },
      { ...context, includeConversationAndUserIds: false }
    )
    expect(event.labels).toEqual({ botId: 'bot-from-ctx', channel: 'web', instance: I })
  })

  test('takes the version as a number or as text', () => {
    expect(build({ name: 'x', version: 3 }).labels.version).toBe('3')
    expect(build({ name: 'x', version: '1.4.2' }).labels.version).toBe('1.4.2')
  })
})

describe('no input can add a line, a label or change the measurement', () => {
  const hostile = [
    'a\nb metric=666 1',
    'a,evil=1',
    'a evil=1',
    'x=y',
    'trailing\\',
    'double\\\\',
    '\\,\\=\\ ',
    '\r\n# comment',
    '"quoted, value"',
    'tab\there'
  ]
  test.each(hostile)('in channel: %j', (channel) => {
    const event = build({ name: 'm', channel, botId: 'b' })
    expect(event.line.split('\n')).toHaveLength(1)
    expect(event.line).not.toMatch(/[\r\t]/)
    expect(Object.keys(event.labels)).toEqual(['botId', 'channel', 'instance'])
    expect(event.line.startsWith('m,botId=b,channel=')).toBe(true)
    expect(event.line.endsWith(`,instance=${I} metric=1 ${T}`)).toBe(true)
    expect(event.line).not.toContain('\\\\')
  })

  test('a value ending in a backslash cannot escape the separator after it', () => {
    expect(build({ name: 'm', channel: 'a\\', botId: 'b' }).line).toBe(
      `m,botId=b,channel=a/,instance=${I} metric=1 ${T}`
    )
  })
})

describe('value', () => {
  test.each([
    [undefined, 1],
    ['', 1],
    ['  ', 1],
    [250.5, 250.5],
    ['250.5', 250.5],
    [' -3 ', -3],
    [0, 0],
    ['1e3', 1000],
    ['.5', 0.5],
    ['+2', 2]
  ])('%j → %d', (value, expected) => {
    expect(build({ name: 'x', value }).line).toMatch(
      new RegExp(` metric=${String(expected).replace('.', '\\.')} ${T}$`)
    )
  })

  test.each(['abc', 'NaN', 'Infinity', '-Infinity', '1,5', '0x1F', '0b101', '0o7', '1_000', Number.POSITIVE_INFINITY])(
    'refuses %j',
    (value) => {
      expect(() => build({ name: 'x', value })).toThrow(/Value must be a finite number/)
    }
  )

  test.each([Number.NaN, true, { a: 1 }])('refuses %j by its type', (value) => {
    expect(() => build({ name: 'x', value: value as number })).toThrow(
      /Invalid input: value: must be a finite number or numeric text/
    )
  })
})

describe('extra labels (tags)', () => {
  test('accepts an object of strings, numbers and booleans', () => {
    const event = build({ name: 'x', tags: { flow: 'checkout', step: 3, ok: true } })
    expect(event.labels).toMatchObject({ flow: 'checkout', step: '3', ok: 'true' })
  })

  test('accepts the JSON text Studio passes', () => {
    expect(build({ name: 'x', tags: '{"flow": "checkout", "step": 3}' }).labels).toMatchObject({
      flow: 'checkout',
      step: '3'
    })
  })

  test('treats empty text as no labels', () => {
    expect(Object.keys(build({ name: 'x', tags: '' }).labels)).toEqual(['botId', 'instance'])
  })

  test('sanitises keys like names', () => {
    expect(build({ name: 'x', tags: { 'flow-name': 'a', '1st': 'b' } }).labels).toMatchObject({
      flow_name: 'a',
      _1st: 'b'
    })
  })

  test.each([
    ['text that is not JSON', '{flow: checkout}', /does not parse/],
    ['a JSON list', '["a"]', /not a list or a single value/],
    ['a JSON string', '"a"', /not a list or a single value/],
    ['a nested object', { a: { b: 1 } }, /tags: must be a JSON object of string, number or boolean values/],
    ['a null value', '{"a": null}', /must be a string, a number or a boolean/],
    ['a built-in label', { channel: 'x' }, /would replace the built-in label channel/],
    ['a key that sanitises to a built-in label', { 'bot-Id': 'x', botId: 'y' }, /built-in label botId|both become/],
    ['two keys that sanitise alike', { 'a-b': '1', 'a.b': '2' }, /both become the label a_b/],
    ['a reserved key', { __name__: 'x' }, /reserved by Prometheus/],
    ['a key that becomes reserved', { '-_x': 'x' }, /reserved by Prometheus/],
    ['a key with whitespace', { 'a b': 'x' }, /must not contain whitespace/],
    ['an empty key', { '': 'x' }, /a label name is empty/],
    ['the key time, reserved by the line protocol', { time: 'x' }, /the name time is reserved/],
    [
      'the key instance, which names the writing instance',
      { instance: 'x' },
      /the name instance is reserved for the integration instance/
    ],
    [
      'an own __proto__ key, which zod would drop',
      JSON.parse('{"__proto__": "x"}'),
      /tags\.__proto__: names starting with __ are reserved/
    ],
    ['more than 20 labels', Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])), /at most 20/]
  ])('refuses %s', (_, tags, message) => {
    expect(() => build({ name: 'x', tags: tags as SendMetricInput['tags'] })).toThrow(message)
  })

  test('refuses labels that together exceed the 65535-byte series key', () => {
    const tags = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`${'k'.repeat(1020)}${i}`, 'v'.repeat(2048)]))
    const long = { name: 'n'.repeat(2000), channel: 'c'.repeat(2048), botId: 'b'.repeat(2048), tags }
    expect(() => build(long)).toThrow(/together are \d+ bytes; Grafana accepts at most 65535/)
    expect(build({ ...long, botId: 'b' }).seriesName).toBe(`${'n'.repeat(2000)}_metric`)
  })

  test('refuses a label value beyond 2048 bytes and accepts one at the limit', () => {
    expect(() => build({ name: 'x', tags: { a: 'é'.repeat(1025) } })).toThrow(/Label a: the value is 2050 bytes long/)
    expect(build({ name: 'x', tags: { a: 'é'.repeat(1024) } }).labels.a).toHaveLength(1024)
  })
})
