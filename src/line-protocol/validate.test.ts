import { describe, expect, test } from 'vitest'
import { parsePoint } from './grammar'
import { LineProtocolError, parseRawData, type Rule } from './validate'

const refusal = (body: string): LineProtocolError => {
  try {
    parseRawData(body)
  } catch (error) {
    if (error instanceof LineProtocolError) {
      return error
    }
    throw error
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`)
}

/** 'accepted', or the reason of the refusal. */
const ruleOrAccepted = (body: string): string => {
  try {
    parseRawData(body)
    return 'accepted'
  } catch (error) {
    if (error instanceof LineProtocolError) {
      return error.reason
    }
    throw error
  }
}

describe('accepted lines', () => {
  test.each([
    ['a float field', 'm f=1', ['m_f']],
    ['a field called value', 'requests value=2', ['requests']],
    [
      'tags and several fields',
      'checkout,flow=cart,step=pay amount=35.2,items=3i,ok=true',
      ['checkout_amount', 'checkout_items', 'checkout_ok']
    ],
    [
      'negative, fractional and scientific floats',
      'm a=-1.5,b=.5,c=5.,d=1e5,e=1E-5,f=-0,g=1.7976931348623157e308',
      ['m_a', 'm_b', 'm_c', 'm_d', 'm_e', 'm_f', 'm_g']
    ],
    ['the int64 range', 'm a=9223372036854775807i,b=-9223372036854775808i', ['m_a', 'm_b']],
    [
      'every boolean spelling',
      'm a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE',
      ['m_a', 'm_b', 'm_c', 'm_d', 'm_e', 'm_f', 'm_g', 'm_h', 'm_i', 'm_j']
    ],
    ['an escaped comma in the measurement', 'a\\,b f=1', ['a_b_f']],
    ['escapes in tag keys and values', 'm,k\\ 1=v\\,1\\=\\ x f=1', ['m_f']],
    ['an escaped field key', 'm f\\ 1\\,x\\=y=1', ['m_f_1_x_y']],
    ['unicode in tag values', 'm,city=Zürich\\ 🚀 f=1', ['m_f']],
    ['a name Grafana sanitises', 'checkout.step-1 f#1=0', ['checkout_step_1_f_1']],
    ['a leading digit', '1m f=1', ['_1m_f']],
    ['leading spaces and tabs', '  \t m f=1', ['m_f']],
    ['two spaces between parts', 'm,t=a  f=1', ['m_f']],
    ['trailing spaces', 'm f=1   ', ['m_f']],
    ['a backslash that escapes nothing in a tag value', 'm,path=C:\\Users f=1', ['m_f']],
    ['an = first in a tag value', 'm,t==x f=1', ['m_f']],
    ['an escaped = in the measurement', 'cpu\\=load v=1', ['cpu_load_v']],
    ['an escaped quote in the measurement', 'cpu\\"load v=1', ['cpu_load_v']],
    ['27 tags', `m,${Array.from({ length: 27 }, (_, i) => `t${i}=v`).join(',')} f=1`, ['m_f']]
  ])('%s', (_, line, series) => {
    const [parsed] = parseRawData(line)
    expect(parsed!.series).toEqual(series)
  })

  test('skips comments and blank lines and keeps line numbers', () => {
    const lines = parseRawData('# header\n\n  \nm f=1\n   # indented comment\nn g=2i\n')
    expect(lines.map((line) => [line.number, line.text])).toEqual([
      [4, 'm f=1'],
      [6, 'n g=2i']
    ])
  })

  test('reads the measurement as Grafana does, escapes removed', () => {
    expect(parseRawData('cpu\\=load\\"x\\,y v=1')[0]!.measurement).toBe('cpu=load"x,y')
  })

  test.each([
    ['m f=1', 'm'],
    ['m,t=a,u=b\\ c  f=1 ', 'm,t=a,u=b\\ c'],
    ['  a\\,b,t=x\\,y f=1', 'a\\,b,t=x\\,y']
  ])('says where the measurement and tags of %j end, where the instance tag goes', (body, key) => {
    const [line] = parseRawData(body)
    expect(line!.text.slice(0, line!.keyEnd)).toBe(key)
    expect(line!.text[line!.keyEnd]).toBe(' ')
    const sent = parsePoint(
      `${line!.text.slice(0, line!.keyEnd)},instance=0123456789abc${line!.text.slice(line!.keyEnd)}`
    )
    expect(sent.tags.at(-1)).toMatchObject({ key: 'instance', value: '0123456789abc' })
    expect(sent.fields.map((field) => field.key)).toEqual(['f'])
  })

  test('returns nothing for a body of comments', () => {
    expect(parseRawData('# only\n\n')).toEqual([])
  })

  test('unescapes tags and reads field values', () => {
    const [line] = parseRawData('m,a\\ b=x\\,y\\=z\\ w f=2.5,g=7i,h=false')
    expect(line!.tags).toEqual([['a_b', 'x,y=z w']])
    expect(line!.fields).toEqual([
      { key: 'f', type: 'float' },
      { key: 'g', type: 'integer' },
      { key: 'h', type: 'boolean' }
    ])
    expect(line!.text).toBe('m,a\\ b=x\\,y\\=z\\ w f=2.5,g=7i,h=false')
  })
})

describe('refused lines name the line, the column and the reason', () => {
  test.each<[string, string, Rule, RegExp, number?]>([
    ['no fields', 'm', 'syntax', /missing fields/],
    ['no fields after tags', 'm,t=a', 'syntax', /missing fields/],
    ['a missing measurement', ',t=a f=1', 'syntax', /missing measurement/],
    ['an empty tag value', 'm,t= f=1', 'syntax', /missing tag value/],
    ['a missing tag value', 'm,t f=1', 'syntax', /missing tag value/],
    ['a missing tag key', 'm,=a f=1', 'syntax', /missing tag key/],
    ['an unescaped = in a tag value', 'm,t=a=b f=1', 'syntax', /invalid tag format/],
    ['a duplicate tag', 'm,t=a,t=b f=1', 'syntax', /duplicate tag "t"/],
    ['an unquoted string', 'm f=hello', 'syntax', /invalid value: use a number/],
    ['a missing field value', 'm f=', 'syntax', /missing field value/],
    ['a missing field key', 'm =1', 'syntax', /missing field key/],
    ['a trailing comma', 'm f=1,', 'syntax', /invalid field format/],
    ['a float out of range', 'm f=1e400', 'syntax', /out of range/],
    ['an integer out of range', 'm f=9223372036854775808i', 'syntax', /integer out of range/],
    ['two decimal points', 'm f=1.2.3', 'syntax', /invalid number/],
    ['a float marked integer', 'm f=1.5i', 'syntax', /invalid number/],
    ['NaN', 'm f=NaN', 'syntax', /NaN/],
    ['infinity', 'm f=-Inf', 'syntax', /invalid number/],
    ['a misspelt boolean', 'm f=tRUE', 'syntax', /invalid boolean/],
    ['text after a timestamp', 'm f=1 123 x', 'syntax', /unexpected text/],
    ['a timestamp', 'm f=1 1700000000000', 'timestamp', /remove it, the integration adds/],
    ['a space in the measurement, even escaped', 'my\\ metric f=1', 'measurement-whitespace', /whitespace/],
    ['a no-break space in the measurement', 'my\u00a0metric f=1', 'measurement-whitespace', /whitespace/],
    ['a non-ASCII measurement', 'température f=1', 'non-ascii-name', /mangles/],
    ['a non-ASCII tag key', 'm,café=1 f=1', 'non-ascii-name', /tag key/],
    ['a non-ASCII field key', 'm café=1', 'non-ascii-name', /field key/],
    ['a string field', 'm f="text"', 'string-field', /Grafana drops/],
    ['an unsigned integer', 'm f=12u', 'unsigned-field', /dropped by Grafana/],
    ['a duplicate field', 'm f=1,f=2', 'duplicate-field', /duplicate field "f"/],
    ['fields that become one series', 'm a-b=1,a_b=2', 'duplicate-field', /same series/],
    ['tags that become one label', 'm,a-b=1,a_b=2 f=1', 'duplicate-label', /both become the label a_b/],
    ['a reserved label', 'm,__name__=x f=1', 'reserved-name', /reserved/],
    ['the time tag', 'm,time=x f=1', 'reserved-name', /the tag "time": the name time is reserved/],
    ['the time field', 'm time=1', 'reserved-name', /the field key "time": the name time is reserved/],
    ['a carriage return', 'm f=1\r', 'control-character', /CRLF/],
    ['a tab between parts', 'm\tf=1', 'control-character', /tab/],
    ['a NUL byte', 'm,t=a\u0000 f=1', 'control-character', /U\+0000/],
    ['a tag value too long', `m,t=${'x'.repeat(2049)} f=1`, 'too-long', /2048/],
    [
      'too many tags',
      `m,${Array.from({ length: 28 }, (_, i) => `t${i}=v`).join(',')} f=1`,
      'too-many-labels',
      /at most 27 .*instance tag/
    ],
    [
      'the instance tag',
      'm,instance=a f=1',
      'reserved-name',
      /the tag "instance": the name instance is reserved for the integration instance that wrote the sample/
    ],
    [
      'a value walkFields reads past an escaped =',
      'm \\\\="=1"',
      'syntax',
      /^unable to parse floating point value "1\\"": InfluxDB's parser reads it as the value of a field "\\\\=\\""/
    ],
    [
      'fields scanFields and walkFields split differently',
      'm a\\\\="x=1,b",c=2',
      'ambiguous-fields',
      /Grafana's parser would read a field "a\\\\=\\"x" here/
    ],
    ['NaN where walkFields splits differently', 'm a\\\\="x=nan,b",c=2', 'ambiguous-fields', /ambiguous fields/],
    [
      'an empty field key where walkFields splits differently',
      'm a\\\\="x=1,=3,b",c=2',
      'ambiguous-fields',
      /ambiguous fields/
    ],
    ['a lone quote as the last value walkFields finds', 'm a\\\\="x=1,b="', 'ambiguous-fields', /ambiguous fields/]
  ])('%s', (_, line, rule, reason) => {
    const error = refusal(line)
    expect(error.rule).toBe(rule)
    expect(error.reason).toMatch(reason)
    expect(error.line).toBe(1)
    expect(error.message).toMatch(/^line 1, column \d+: /)
  })

  test('the column points at the problem, counting characters, not UTF-16 units', () => {
    expect(refusal('m,t=🚀 f=hello').column).toBe(9)
    expect(refusal('  m f=1 123').column).toBe(9)
  })

  test('the line number counts every line, comments and blanks included', () => {
    const error = refusal('# comment\nm f=1\n\nm f=1,g=oops')
    expect(error.line).toBe(4)
  })

  test('two lines writing the same series would collide on one timestamp', () => {
    const error = refusal('m,t=a f=1\nm,t=b f=1\nm,t=a f=2')
    expect(error.rule).toBe('duplicate-series')
    expect(error.line).toBe(3)
    expect(error.reason).toMatch(/line 1 already writes the series m_f/)
  })

  test('a measurement with an escaped = is the same series as one without', () => {
    const error = refusal('cpu\\=load v=1\ncpu=load v=2')
    expect(error.rule).toBe('duplicate-series')
    expect(error.reason).toMatch(/line 1 already writes the series cpu_load_v/)
  })

  test('the same series with other labels is fine', () => {
    expect(parseRawData('m,t=a f=1\nm,t=b f=1\nm f=1')).toHaveLength(3)
  })

  test.each([
    ['tags in another order', 'm,a=1,b=2 f=1\nm,b=2,a=1 f=3'],
    ['tag keys that become the same label', 'm,a\\ b=1 f=1\nm,a_b=1 f=2'],
    ['a field named value and the bare measurement', 'm_x,t=1 value=1\nm,t=1 x=2']
  ])('the same series written twice: %s', (_, body) => {
    expect(refusal(body).rule).toBe('duplicate-series')
  })

  test.each(['m f\\\\=1', 'm g=2,f\\\\=1', 'm f\\\\\\\\=1'])(
    'a field key ending in an even run of backslashes leaves no value: %s',
    (line) => {
      expect(refusal(line).reason).toMatch(/no value after the field key/)
    }
  )

  test('the key length limit counts the instance tag the card adds', () => {
    // Only tags reach it: a measurement or field key that long breaks the series-name limit first.
    const tags = Array.from(
      { length: 22 },
      (_, i) => `,k${String(i).padStart(2, '0')}${'k'.repeat(997)}=${'v'.repeat(1900)}`
    ).join('')
    const line = (keyBytes: number) => `m${tags},z=${'v'.repeat(keyBytes - `m${tags},z=`.length)} f=1`
    // InfluxDB: key, 4 bytes, field key: at most 65535 bytes; the card adds 23 (,instance=<13 characters>).
    const most = 65535 - 4 - 'f'.length - ',instance=0123456789abc'.length
    expect(ruleOrAccepted(line(most))).toBe('accepted')
    const error = refusal(line(most + 1))
    expect(error.rule).toBe('too-long')
    expect(error.reason).toMatch(/^max key length exceeded: .* 65535 bytes with the instance tag the integration adds/)
  })

  test('every field of a line is held to the series-name limit, not just the first', () => {
    const error = refusal(`m a=1,${'f'.repeat(2100)}=2`)
    expect(error.rule).toBe('too-long')
  })

  test.each([
    ['an open quote', 'm f="a\nb"', 1, 2, /lines 1 to 2 as one line/],
    ['a backslash before the line break', 'm,t=a\\\nb f=1', 1, 2, /backslash/],
    ['a comment that opens a quote', '# a b="x\nm f=1\nn g=1', 1, 3, /skip them all as a comment/],
    ['after plain lines', 'a f=1\nb g=2\nm,t=a\\\nb f=1\nc f=1', 3, 4, /backslash/],
    ['after a line with escapes and quotes', 'a,t=x\\ y f=1\n# "q"\nm f="a\nb"', 3, 4, /open quote/]
  ])('a line that Grafana would join with the next: %s', (_, body, line, ends, reason) => {
    const error = refusal(body)
    expect(error.rule).toBe('line-break')
    expect(error.line).toBe(line)
    expect(error.reason).toMatch(new RegExp(`lines ${line} to ${ends}`))
    expect(error.reason).toMatch(reason)
  })

  test('a body over 1 MiB is refused before parsing', () => {
    const error = refusal(`m f=1\n${'#'.repeat(1024 * 1024)}`)
    expect(error.rule).toBe('body-too-large')
    expect(error.message).toMatch(/at most 1048576 bytes/)
  })
})
