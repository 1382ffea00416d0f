import { describe, expect, test } from 'vitest'
import { LineProtocolError } from './error'
import { parsePoint, scanLine } from './grammar'

const refusal = (text: string): LineProtocolError => {
  try {
    parsePoint(text)
  } catch (error) {
    if (error instanceof LineProtocolError) {
      return error
    }
    throw error
  }
  throw new Error(`accepted: ${JSON.stringify(text)}`)
}

describe("InfluxDB's parser, ported", () => {
  test.each([
    ['cpu\\=load v=1', 'cpu=load'],
    ['cpu\\"load v=1', 'cpu"load'],
    ['a\\,b\\ c v=1', 'a,b c'],
    ['a\\\\=b v=1', 'a\\=b'],
    ['C:\\path v=1', 'C:\\path']
  ])('Name() unescapes \\, \\" \\space and \\= in the measurement: %s', (text, measurement) => {
    expect(parsePoint(text).measurement).toBe(measurement)
  })

  test('tags keep a backslash before a quote, field keys lose it', () => {
    const point = parsePoint('m,k\\"=v\\" f\\"=1')
    expect(point.tags).toEqual([{ rawKey: 'k\\"', key: 'k\\"', value: 'v\\"', index: 2 }])
    expect(point.fields.map((field) => field.key)).toEqual(['f"'])
  })

  test.each([
    ['m f=1', 1],
    ['m,t=a f=1', 5],
    ['m,t=a,u=b\\ c  f=1', 12],
    ['a\\ b,t=a\\,b f=1', 11]
  ])('the key (measurement and tags) of %j ends at %i', (text, keyEnd) => {
    const point = parsePoint(text)
    expect(point.keyEnd).toBe(keyEnd)
    expect(text[keyEnd]).toBe(' ')
  })

  test.each([
    ['m f=1.5,g=2i,h=t,s="x",u=3u', ['float', 'integer', 'boolean', 'string', 'unsigned']],
    ['m a\\\\="x=1,b",c=2', ['float', 'float']]
  ])('types each value walkFields finds as the field iterator does: %s', (text, types) => {
    expect(parsePoint(text).fields.map((field) => field.type)).toEqual(types)
  })

  test('scanFields and walkFields can find the = of a field at different places', () => {
    const point = parsePoint('m a\\\\="x=1,b",c=2')
    expect(point.fieldEquals).toEqual([5, 15])
    expect(point.fields.map((field) => [field.key, field.equalsAt])).toEqual([
      ['a\\="x', 8],
      ['b",c', 15]
    ])
  })

  test.each([
    ['m \\\\="=1"', 'unable to parse floating point value "1\\""'],
    ['m a\\\\="x=1\u0000,b=1"', 'unable to parse floating point value "1\\u0000"'],
    ['m a\\\\="x=1\r,b",c=2', 'unable to parse floating point value "1\\r"'],
    ['m a\\\\="x=1\t,b",c=2', 'unable to parse floating point value "1\\t"'],
    ['m a\\\\="x=1e400,b",c=2', 'unable to parse floating point value "1e400"'],
    ['m a\\\\="x=i,b",c=2', 'unable to parse integer value ""'],
    ['m a\\\\="x=-1u,b",c=2', 'unable to parse unsigned value "-1"'],
    ['m a\\\\="x=+1,b",c=2', 'unable to parse bool value "+1"'],
    ['m a\\\\="x=,b",c=2', 'missing field value']
  ])('refuses a value walkFields finds that Fields() cannot read: %j', (text, reason) => {
    const error = refusal(text)
    expect(error.reason).toContain(reason)
    expect(error.reason).toMatch(/reads it as the value of a field/)
  })

  test.each(['m a\\\\="x=Inf,b",c=2', 'm a\\\\="x=1_0,b",c=2', 'm a\\\\="x=0x1p3,b",c=2', 'm a\\\\="x=1,=3,b",c=2'])(
    'accepts what Fields() reads, however odd: %j',
    (text) => {
      expect(() => parsePoint(text)).not.toThrow()
    }
  )

  test.each([
    ['m f=1 123', 6],
    ['m f=1  -5  ', 7],
    ['m f=1', undefined]
  ])('finds the timestamp of %j', (text, at) => {
    expect(parsePoint(text).timestampAt).toBe(at)
  })

  test('scanLine ends a line at a line break, except inside a quoted value or after a backslash', () => {
    const body = 'm f=1\nm f="a\nb"\nm,t=a\\\nb f=1\nn g=2'
    const ends: number[] = []
    for (let start = 0; start <= body.length; start = ends.at(-1)! + 1) {
      ends.push(scanLine(body, start))
    }
    expect(ends.map((end, at) => body.slice(at === 0 ? 0 : ends[at - 1]! + 1, end))).toEqual([
      'm f=1',
      'm f="a\nb"',
      'm,t=a\\\nb f=1',
      'n g=2'
    ])
  })
})
