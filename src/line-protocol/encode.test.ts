import { describe, expect, test } from 'vitest'
import { sanitizeName } from '../label-names'
import { encodeLine, escape, labelValue, seriesKey } from './encode'
import { seriesName } from './names'

describe('sanitizeName follows Grafana', () => {
  test.each([
    ['flow_completed', 'flow_completed'],
    ['flow-completed', 'flow_completed'],
    ['checkout.step#1?', 'checkout_step_1_'],
    ['1st_step', '_1st_step'],
    ['9', '_9'],
    ['_private', '_private'],
    ['é', '_'],
    ['naïve', 'na_ve'],
    ['🚀launch', '_launch'],
    ['a\uD800b', 'a_b'],
    ['*measurement', '_measurement']
  ])('%j → %j', (input, expected) => {
    expect(sanitizeName(input)).toBe(expected)
  })

  test('a field called value names the series after the measurement alone', () => {
    expect(seriesName('requests', 'value')).toBe('requests')
    expect(seriesName('requests', 'metric')).toBe('requests_metric')
    expect(seriesName('1m', 'f#1')).toBe('_1m_f_1')
  })
})

describe('labelValue: what Grafana stores', () => {
  test.each([
    ['plain text is kept', 'webchat', 'webchat'],
    ['commas, equals, spaces and quotes are kept', 'a,b=c "d"', 'a,b=c "d"'],
    ['unicode is kept', 'día 🚀 日本', 'día 🚀 日本'],
    ['LF becomes a space', 'a\nb', 'a b'],
    ['CRLF becomes two spaces', 'a\r\nb', 'a  b'],
    ['a tab becomes a space', 'a\tb', 'a b'],
    ['NUL, DEL and C1 controls become spaces', 'a\u0000b\u007fc\u0085d', 'a b c d'],
    ['a backslash becomes a slash', 'C:\\Users', 'C:/Users'],
    ['a trailing backslash becomes a slash', 'a\\', 'a/'],
    ['a lone surrogate becomes U+FFFD', 'a\uD83Db', 'a\uFFFDb'],
    ['U+2028 is kept (it is not a line break for the parser)', 'a\u2028b', 'a\u2028b']
  ])('%s', (_, input, expected) => {
    expect(labelValue(input)).toBe(expected)
  })
})

describe('escape: how a text goes on the wire', () => {
  test.each([
    ['webchat', 'webchat'],
    ['a,b', 'a\\,b'],
    ['a=b', 'a\\=b'],
    ['a b', 'a\\ b'],
    [' ', '\\ '],
    ['trailing ', 'trailing\\ '],
    ['"quoted"', '"quoted"']
  ])('tag %j → %j', (input, expected) => {
    expect(escape.tag(input)).toBe(expected)
  })

  test('a measurement escapes commas and spaces, not =', () => {
    expect(escape.measurement('a,b c=d')).toBe('a\\,b\\ c=d')
  })
})

describe('seriesKey and encodeLine', () => {
  test('sort the tags by key and escape each value', () => {
    const key = seriesKey('flow_completed', { channel: 'web,chat', botId: 'bot 1' })
    expect(key).toBe('flow_completed,botId=bot\\ 1,channel=web\\,chat')
    expect(encodeLine(key, { metric: 1 }, 1_700_000_000_123)).toBe(
      'flow_completed,botId=bot\\ 1,channel=web\\,chat metric=1 1700000000123'
    )
  })

  test('without tags', () => {
    expect(encodeLine(seriesKey('m', {}), { metric: 2.5 }, 1)).toBe('m metric=2.5 1')
  })

  test('several fields, separated by commas', () => {
    expect(encodeLine('m', { a: 1, b: -2 }, 5)).toBe('m a=1,b=-2 5')
  })

  test.each([
    [1, '1'],
    [-1.5, '-1.5'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1e21, '1e+21'],
    [1.5e-7, '1.5e-7'],
    [Number.MAX_VALUE, '1.7976931348623157e+308'],
    [-0, '0']
  ])('formats the float %d as %j', (value, text) => {
    expect(encodeLine('m', { f: value }, 1)).toBe(`m f=${text} 1`)
  })
})
