import { describe, expect, test } from 'vitest'
import type { Configuration } from './config'
import { buildSendLogEntry, logsOf } from './log'
import { MAX_LINE_BYTES, MAX_METADATA_BYTES } from './log-entry'
import { pushBody } from './loki'
import { parseWith } from './parse'
import { sendLogInputSchema, type SendLogInput } from './schemas'

const T = 1_700_000_000_123
const I = '0a1b2c3d4e5f6'

const build = (input: Partial<SendLogInput> & { message: string }, stamp = { instance: I, timestamp: T }) =>
  buildSendLogEntry(parseWith('Invalid input', sendLogInputSchema, input), { botId: 'bot-from-ctx' }, stamp)

describe('Send Log entry', () => {
  test('stream labels for the few-valued fields, the IDs and event as metadata, the line as JSON', () => {
    const entry = build({
      message: 'Payment declined',
      level: 'error',
      event: 'payment-declined',
      channel: 'webchat',
      botId: 'bot-1',
      conversationId: 'conv-1',
      userId: 'user-1',
      version: '1.4.2',
      attributes: { orderId: 'A-1042', amount: 35.2 }
    })
    expect(entry).toEqual({
      stream: { service_name: 'botpress', botId: 'bot-1', channel: 'webchat', version: '1.4.2' },
      timestampNs: '1700000000123000000',
      line: `{"level":"error","message":"Payment declined","instance":"${I}"}`,
      metadata: {
        card: 'sendLog',
        event: 'payment_declined',
        conversationId: 'conv-1',
        userId: 'user-1',
        orderId: 'A-1042',
        amount: '35.2'
      }
    })
  })

  test('defaults: level info, the bot running the card, unrendered templates left out', () => {
    const entry = build({ message: 'hi' })
    expect(entry.stream).toEqual({ service_name: 'botpress', botId: 'bot-from-ctx' })
    expect(entry.metadata).toEqual({ card: 'sendLog' })
    expect(JSON.parse(entry.line)).toEqual({ level: 'info', message: 'hi', instance: I })
  })

  test('keeps every character of the message, IDs and attributes, in JSON Loki decodes exactly', () => {
    const hostile = 'a\nb\r\t"q" \\ \u0000 \u007f \u2028 🚀 {"level":"x"} level=error'
    const entry = build({
      message: hostile,
      conversationId: hostile,
      userId: hostile,
      attributes: JSON.stringify({ note: hostile })
    })
    expect(JSON.parse(entry.line).message).toBe(hostile)
    expect(entry.metadata.conversationId).toBe(hostile)
    expect(entry.metadata.note).toBe(hostile)
    const body = JSON.parse(pushBody([entry])) as { streams: Array<{ values: Array<[string, string, object]> }> }
    expect(body.streams[0]!.values[0]).toEqual([entry.timestampNs, entry.line, entry.metadata])
  })

  test('an attribute name Loki would rename is written as Loki stores it: key_ before a single leading _', () => {
    const entry = build({ message: 'm', attributes: { '1st': 'a', _x: 'b', x_: 'c' } })
    expect(entry.metadata).toEqual({ card: 'sendLog', key_1st: 'a', key_x: 'b', x_: 'c' })
  })

  test('a lone surrogate, which Loki would refuse with the whole request, becomes U+FFFD', () => {
    const entry = build({ message: 'broken \ud83d emoji', conversationId: '\udc00' })
    expect(JSON.parse(entry.line).message).toBe('broken \ufffd emoji')
    expect(entry.metadata.conversationId).toBe('\ufffd')
  })

  test('two stamps of one instance give two timestamps; two instances give two lines', () => {
    const a = build({ message: 'same' }, { instance: I, timestamp: T })
    const b = build({ message: 'same' }, { instance: I, timestamp: T + 1 })
    const c = build({ message: 'same' }, { instance: 'zzzzzzzzzzzzz', timestamp: T })
    expect(a.timestampNs).not.toBe(b.timestampNs)
    expect(a.line).not.toBe(c.line)
  })

  test('a line at the limit is accepted and one byte more is refused', () => {
    const overhead = build({ message: '' + 'x' }).line.length - 1
    expect(build({ message: 'x'.repeat(MAX_LINE_BYTES - overhead) }).line).toHaveLength(MAX_LINE_BYTES)
    expect(() => build({ message: 'x'.repeat(MAX_LINE_BYTES - overhead + 1) })).toThrow(
      /The log line is 262145 bytes long; Grafana Cloud Logs accepts lines up to 262144 bytes/
    )
  })

  test.each<[string, Partial<SendLogInput> & { message: string }, RegExp]>([
    ['an empty message', { message: '' }, /Message is empty: Grafana Cloud Logs would answer OK and store nothing/],
    ['an unrendered template as message', { message: '{{workflow.text}}' }, /Message is empty/],
    ['an event with whitespace', { message: 'm', event: 'payment declined' }, /Event must not contain whitespace/],
    [
      'a bot ID over 2048 bytes',
      { message: 'm', botId: 'b'.repeat(2049) },
      /Log stream label botId: the value is 2049/
    ],
    ['a channel over 2048 bytes', { message: 'm', channel: 'é'.repeat(1025) }, /Log stream label channel/],
    ['attributes that are not JSON', { message: 'm', attributes: '{a: 1}' }, /Attributes must be a JSON object/],
    ['an attribute list', { message: 'm', attributes: '[1]' }, /not a list or a single value/],
    ['a boolean attribute', { message: 'm', attributes: '{"ok": true}' }, /Attribute "ok" must be text or a number/],
    ['a nested attribute', { message: 'm', attributes: '{"o": {"a": 1}}' }, /Attribute "o" must be text or a number/],
    ['an attribute named like an ID', { message: 'm', attributes: { userId: 'x' } }, /built-in metadata userId/],
    ['an attribute named level', { message: 'm', attributes: { level: 'x' } }, /built-in metadata level/],
    [
      'an attribute Loki would take the level from',
      { message: 'm', attributes: { severity: 'debug' } },
      /built-in metadata severity/
    ],
    [
      'two attributes Loki would store under one name',
      { message: 'm', attributes: { key_x: 1, '-x': 2 } },
      /Two names would be stored as the log metadata key_x/
    ],
    ['two attributes that clean alike', { message: 'm', attributes: { 'a-b': 1, 'a.b': 2 } }, /both become/],
    ['a reserved attribute name', { message: 'm', attributes: { __x: 1 } }, /reserved by Prometheus/],
    [
      'more than 20 attributes',
      { message: 'm', attributes: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])) },
      /Attributes: at most 20 are allowed \(got 21\)/
    ],
    [
      'metadata over 64 KiB',
      { message: 'm', attributes: { a: 'x'.repeat(MAX_METADATA_BYTES) } },
      /together are 65548 bytes; Grafana Cloud Logs accepts up to 65536 bytes of metadata/
    ]
  ])('refuses %s', (_, input, message) => {
    expect(() => build(input)).toThrow(message)
  })
})

describe('logs switched off', () => {
  test('Send Log says how to turn logs on', () => {
    const config = { logs: undefined } as Configuration
    expect(() => logsOf(config)).toThrow(/Logs are off: fill in Logs endpoint URL and Logs user ID/)
  })
})
