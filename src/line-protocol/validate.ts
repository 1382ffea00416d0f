/**
 * Validates Send Raw Data bodies: InfluxDB's line-protocol grammar, scanned the way Grafana's
 * parser (InfluxDB `models.ParsePointsWithPrecision`) scans it, plus stricter rules for what
 * Grafana would accept and then drop, mangle or refuse later. Every refusal says where and why.
 */
import { exceedsBytes, limits, utf8Bytes } from '../limits'
import { RESERVED_KEY, sanitizeName, seriesName, WHITESPACE } from './names'

/**
 * Why a line is refused. `syntax` is InfluxDB's own grammar; every other rule is ours, stricter
 * than InfluxDB, and documented in hub.md.
 */
export type Rule =
  | 'syntax'
  | 'timestamp'
  | 'measurement-whitespace'
  | 'non-ascii-name'
  | 'control-character'
  | 'string-field'
  | 'unsigned-field'
  | 'duplicate-field'
  | 'duplicate-label'
  | 'reserved-name'
  | 'too-long'
  | 'too-many-labels'
  | 'duplicate-series'
  | 'body-too-large'
  | 'line-break'

export class LineProtocolError extends Error {
  override readonly name = 'LineProtocolError'
  constructor(
    readonly rule: Rule,
    readonly line: number,
    readonly column: number,
    readonly reason: string
  ) {
    super(line > 0 ? `line ${line}, column ${column}: ${reason}` : reason)
  }
}

export type FieldType = 'float' | 'integer' | 'boolean'

export interface ParsedLine {
  /** 1-based line number in the body. */
  readonly number: number
  /** The line as it goes on the wire, without leading or trailing whitespace. */
  readonly text: string
  readonly measurement: string
  readonly tags: ReadonlyArray<readonly [string, string]>
  readonly fields: ReadonlyArray<{ readonly key: string; readonly type: FieldType; readonly value: number }>
  /** The Prometheus series Grafana stores, one per field. */
  readonly series: readonly string[]
}

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/u
// Mimir's default cap is 30 labels; two go to __name__ and __mimir_source__.
const MAX_TAGS_PER_LINE = 28
const NON_ASCII = /[^\u0000-\u007f]/u

const isDigitOrDot = (c: string | undefined): boolean => c !== undefined && ((c >= '0' && c <= '9') || c === '.')

/** InfluxDB's `unescapeTag`: only `\,`, `\ ` and `\=` are escapes; any other backslash is literal. */
const unescapeTag = (raw: string): string =>
  raw.includes('\\') ? raw.replaceAll('\\,', ',').replaceAll('\\ ', ' ').replaceAll('\\=', '=') : raw

const unescapeMeasurement = (raw: string): string =>
  raw.includes('\\') ? raw.replaceAll('\\,', ',').replaceAll('\\ ', ' ') : raw

/** InfluxDB's `escape.Unescape`, used for field keys. */
const unescapeFieldKey = (raw: string): string => (raw.includes('\\') ? raw.replace(/\\([, ="])/gu, '$1') : raw)

class LineScanner {
  constructor(
    private readonly text: string,
    private readonly lineNumber: number,
    private readonly offset: number
  ) {}

  fail(rule: Rule, index: number, reason: string): never {
    const column = [...this.text.slice(0, Math.max(0, index))].length + this.offset + 1
    throw new LineProtocolError(rule, this.lineNumber, column, reason)
  }

  parse(): ParsedLine {
    const { text } = this
    const control = CONTROL_CHAR.exec(text)
    if (control) {
      const char = control[0]
      const code = char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')
      const hint =
        char === '\r'
          ? ' (a Windows CRLF line ending?): end lines with LF only'
          : char === '\t'
            ? ' (a tab): separate the parts of a line with single spaces'
            : ''
      this.fail('control-character', control.index, `control character U+${code}${hint}.`)
    }

    const { end: measurementEnd, hasTags } = this.scanMeasurement()
    const measurement = unescapeMeasurement(text.slice(0, measurementEnd))
    if (WHITESPACE.test(measurement)) {
      this.fail(
        'measurement-whitespace',
        measurementEnd,
        'the measurement (metric name) contains whitespace, even escaped: use _ instead.'
      )
    }
    this.checkName(measurement, 0, 'measurement')

    let position = measurementEnd
    const tags: Array<[string, string]> = []
    if (hasTags) {
      position = this.scanTags(measurementEnd + 1, tags)
    }
    if (tags.length > MAX_TAGS_PER_LINE) {
      this.fail('too-many-labels', measurementEnd, `${tags.length} tags; Grafana accepts at most ${MAX_TAGS_PER_LINE} per series.`)
    }
    const fieldsEnd = this.scanFields(position)
    const fieldsStart = this.skipSpaces(position)
    const fields = this.walkFields(fieldsStart, fieldsEnd, position)
    this.checkTrailing(fieldsEnd)

    const series = fields.map((field) => seriesName(measurement, field.key))
    for (const name of series) {
      if (exceedsBytes(name, limits.maxValueBytes)) {
        this.fail('too-long', 0, `the series name ${name.slice(0, 40)}… is ${utf8Bytes(name)} bytes; Grafana accepts at most ${limits.maxValueBytes}.`)
      }
    }
    return { number: this.lineNumber, text: text.slice(0, fieldsEnd), measurement, tags, fields, series }
  }

  private checkName(name: string, index: number, what: string): void {
    if (NON_ASCII.test(name)) {
      this.fail(
        'non-ascii-name',
        index,
        `the ${what} ${JSON.stringify(name.slice(0, 60))} has non-ASCII characters, which Grafana mangles byte by byte: use A-Z, a-z, 0-9 and _.`
      )
    }
  }

  // scanMeasurement: a character right after a backslash is escaped, whatever that backslash is.
  private scanMeasurement(): { end: number; hasTags: boolean } {
    const { text } = this
    if (text[0] === ',') {
      this.fail('syntax', 0, 'missing measurement: a line starts with the metric name.')
    }
    for (let i = 1; ; i++) {
      if (i >= text.length) {
        this.fail('syntax', i, 'missing fields: a line needs at least one field, e.g. "requests value=1".')
      }
      if (text[i - 1] === '\\') {
        continue
      }
      if (text[i] === ',') {
        return { end: i, hasTags: true }
      }
      if (text[i] === ' ') {
        return { end: i, hasTags: false }
      }
    }
  }

  private scanTags(start: number, tags: Array<[string, string]>): number {
    const { text } = this
    // Lines have few tags: arrays beat sets and maps here (the validator runs per card call).
    const rawKeys: string[] = []
    const sourceKeys: string[] = []
    let i = start
    for (;;) {
      const keyStart = i
      if (i >= text.length || text[i] === ' ' || text[i] === ',' || text[i] === '=') {
        this.fail('syntax', i, 'missing tag key.')
      }
      for (;;) {
        i++
        if (i >= text.length || ((text[i] === ' ' || text[i] === ',') && text[i - 1] !== '\\')) {
          this.fail('syntax', i, 'missing tag value: write key=value.')
        }
        if (text[i] === '=' && text[i - 1] !== '\\') {
          break
        }
      }
      const rawKey = text.slice(keyStart, i)
      i++
      const valueStart = i
      if (i >= text.length || text[i] === ',' || text[i] === ' ') {
        this.fail('syntax', i, `missing tag value for ${JSON.stringify(rawKey)}: empty values are not allowed.`)
      }
      let next: 'tag' | 'fields'
      for (;;) {
        i++
        if (i >= text.length) {
          this.fail('syntax', i, 'missing fields: a line needs at least one field after the tags.')
        }
        if (text[i - 1] === '\\') {
          continue
        }
        if (text[i] === '=') {
          this.fail('syntax', i, 'invalid tag format: an = inside a tag value must be escaped as \\=.')
        }
        if (text[i] === ',') {
          next = 'tag'
          break
        }
        if (text[i] === ' ') {
          next = 'fields'
          break
        }
      }
      this.addTag(rawKey, text.slice(valueStart, i), keyStart, rawKeys, sourceKeys, tags)
      if (next === 'fields') {
        return i
      }
      i++
    }
  }

  private addTag(
    rawKey: string,
    rawValue: string,
    index: number,
    rawKeys: string[],
    sourceKeys: string[],
    tags: Array<[string, string]>
  ): void {
    if (rawKeys.includes(rawKey)) {
      this.fail('syntax', index, `duplicate tag ${JSON.stringify(rawKey)}.`)
    }
    rawKeys.push(rawKey)
    const key = unescapeTag(rawKey)
    const value = unescapeTag(rawValue)
    this.checkName(key, index, 'tag key')
    if (key === RESERVED_KEY) {
      this.fail('reserved-name', index, 'the tag key "time" is reserved by InfluxDB line protocol.')
    }
    const label = sanitizeName(key)
    if (label.startsWith('__')) {
      this.fail('reserved-name', index, `the tag ${JSON.stringify(key)} becomes the label ${label}; names starting with __ are reserved.`)
    }
    const clash = tags.findIndex(([other]) => other === label)
    if (clash !== -1) {
      this.fail('duplicate-label', index, `the tags ${JSON.stringify(sourceKeys[clash])} and ${JSON.stringify(key)} both become the label ${label}.`)
    }
    if (exceedsBytes(label, limits.maxLabelNameBytes)) {
      this.fail('too-long', index, `the tag key is longer than ${limits.maxLabelNameBytes} bytes.`)
    }
    if (exceedsBytes(value, limits.maxValueBytes)) {
      this.fail('too-long', index, `the value of tag ${label} is longer than ${limits.maxValueBytes} bytes.`)
    }
    sourceKeys.push(key)
    tags.push([label, value])
  }

  private skipSpaces(i: number): number {
    while (i < this.text.length && this.text[i] === ' ') {
      i++
    }
    return i
  }

  /** InfluxDB's `scanFields`: checks the block's shape and returns where it ends. */
  private scanFields(from: number): number {
    const { text } = this
    let i = this.skipSpaces(from)
    let quoted = false
    let equals = 0
    let commas = 0
    while (i < text.length) {
      const c = text[i]
      if (c === '\\' && i + 1 < text.length) {
        i += 2
        continue
      }
      if (c === '"' && equals > commas) {
        quoted = !quoted
        i++
        continue
      }
      if (c === '=' && !quoted) {
        equals++
        if ((text[i - 1] === ' ' || text[i - 1] === ',') && text[i - 2] !== '\\') {
          this.fail('syntax', i, 'missing field key before =.')
        }
        const next = text[i + 1]
        if (next === undefined || next === ',' || next === ' ') {
          this.fail('syntax', i + 1, 'missing field value after =.')
        }
        if (isDigitOrDot(next) || next === '-' || next === 'N' || next === 'n') {
          i = this.scanNumber(i + 1)
          continue
        }
        if (next !== '"') {
          i = this.scanBoolean(i + 1)
          continue
        }
      }
      if (c === ',' && !quoted) {
        commas++
      }
      if (c === ' ' && !quoted) {
        break
      }
      i++
    }
    if (quoted) {
      this.fail('syntax', i, 'unbalanced quotes in a string field.')
    }
    if (equals === 0 || commas !== equals - 1) {
      this.fail('syntax', i, 'invalid field format: write key=value pairs separated by commas.')
    }
    return i
  }

  private scanNumber(start: number): number {
    const { text } = this
    let i = start
    let isInt = false
    let isUnsigned = false
    let decimal = false
    let scientific = false
    const invalid = (at: number): never =>
      this.fail('syntax', at, 'invalid number: use 12.5 (float), 12i (integer), or true/false.')
    if (text[i] === '-') {
      i++
      if (i === text.length) {
        invalid(i)
      }
    }
    while (i < text.length) {
      const c = text[i]!
      if (c === ',' || c === ' ') {
        break
      }
      if (c === 'i' && i > start && !(isInt || isUnsigned)) {
        isInt = true
        i++
        continue
      }
      if (c === 'u' && i > start && !(isInt || isUnsigned)) {
        isUnsigned = true
        i++
        continue
      }
      if (c === '.') {
        if (decimal) {
          invalid(i)
        }
        decimal = true
      }
      if (i > start && (c === 'e' || c === 'E')) {
        scientific = true
        i++
        continue
      }
      if ((c === '+' || c === '-') && (text[i - 1] === 'e' || text[i - 1] === 'E')) {
        i++
        continue
      }
      if (i + 2 < text.length && (c === 'N' || c === 'n')) {
        this.fail('syntax', i, 'NaN is not a valid value.')
      }
      if (!isDigitOrDot(c)) {
        invalid(i)
      }
      i++
    }
    if ((isInt || isUnsigned) && (decimal || scientific)) {
      invalid(start)
    }
    let digits = i - start
    if (isInt) digits--
    if (decimal) digits--
    if (text[start] === '-') digits--
    if (digits === 0) {
      invalid(start)
    }
    if (isUnsigned) {
      if (text[i - 1] !== 'u' || text[start] === '-') {
        invalid(start)
      }
      this.fail('unsigned-field', start, 'unsigned integers (12u) are dropped by Grafana without a word: use 12i or 12.')
    }
    if (isInt) {
      if (text[i - 1] !== 'i') {
        invalid(start)
      }
      const value = BigInt(text.slice(start, i - 1))
      if (value < INT64_MIN || value > INT64_MAX) {
        this.fail('syntax', start, 'integer out of range: integers are 64-bit signed.')
      }
    } else if (!Number.isFinite(Number(text.slice(start, i)))) {
      this.fail('syntax', start, 'invalid float: the number is out of range.')
    }
    return i
  }

  private scanBoolean(start: number): number {
    const { text } = this
    let i = start
    const first = text[i]
    if (first !== 't' && first !== 'f' && first !== 'T' && first !== 'F') {
      this.fail(
        'syntax',
        start,
        'invalid value: use a number (12.5, 12i), true/false, or a quoted string (refused: Grafana drops strings).'
      )
    }
    i++
    while (i < text.length && text[i] !== ',' && text[i] !== ' ') {
      i++
    }
    const word = text.slice(start, i)
    if (word.length > 1 && !['true', 'True', 'TRUE', 'false', 'False', 'FALSE'].includes(word)) {
      this.fail('syntax', start, `invalid boolean ${JSON.stringify(word.slice(0, 20))}: use true or false.`)
    }
    return i
  }

  /** InfluxDB's `walkFields` over the block checked by `scanFields`. */
  private walkFields(start: number, end: number, keyEnd: number): ParsedLine['fields'] {
    const { text } = this
    const fields: Array<{ key: string; type: FieldType; value: number }> = []
    const suffixes: string[] = []
    let i = start
    while (i < end) {
      const keyStart = i
      while (i < end && !(text[i] === '=' && (i === 0 || text[i - 1] !== '\\'))) {
        i++
      }
      // InfluxDB's walkFields finds the `=` by the previous-byte rule, scanFields by escape
      // pairs: `f\\=1` passes the one and fails the other.
      if (i > end - 2) {
        this.fail('syntax', keyStart, 'invalid field: no value after the field key (mind backslashes before =).')
      }
      const rawKey = text.slice(keyStart, i)
      const key = unescapeFieldKey(rawKey)
      if (exceedsBytes(text.slice(0, keyEnd) + rawKey, limits.maxSeriesKeyBytes - 4)) {
        this.fail('syntax', keyStart, `max key length exceeded: measurement, tags and field key exceed ${limits.maxSeriesKeyBytes} bytes.`)
      }
      i++
      const valueStart = i
      let quoted = false
      while (i < end) {
        if (text[i] === '\\' && i + 1 < end && (text[i + 1] === '"' || text[i + 1] === '\\')) {
          i += 2
          continue
        }
        if (text[i] === '"') {
          quoted = !quoted
        } else if (text[i] === ',' && !quoted) {
          break
        }
        i++
      }
      const raw = text.slice(valueStart, i)
      i++
      this.checkName(key, keyStart, 'field key')
      if (key === RESERVED_KEY) {
        this.fail('reserved-name', keyStart, 'the field key "time" is reserved by InfluxDB line protocol.')
      }
      if (raw.startsWith('"')) {
        this.fail(
          'string-field',
          valueStart,
          `the field ${JSON.stringify(key)} is a string, which Grafana drops without a word: send a number instead.`
        )
      }
      if (fields.some((field) => field.key === key)) {
        this.fail('duplicate-field', keyStart, `duplicate field ${JSON.stringify(key)}.`)
      }
      // What the field adds to the measurement's name: two equal suffixes are one series.
      const suffix = seriesName('', key)
      const clash = suffixes.indexOf(suffix)
      if (clash !== -1) {
        this.fail('duplicate-field', keyStart, `the fields ${JSON.stringify(fields[clash]!.key)} and ${JSON.stringify(key)} become the same series.`)
      }
      suffixes.push(suffix)
      fields.push(parseFieldValue(key, raw))
    }
    return fields
  }

  private checkTrailing(fieldsEnd: number): void {
    const rest = this.text.slice(fieldsEnd).trim()
    if (rest === '') {
      return
    }
    const at = this.skipSpaces(fieldsEnd)
    if (/^-?[0-9]+$/u.test(rest)) {
      this.fail('timestamp', at, 'the line has a timestamp: remove it, the integration adds the time of sending.')
    }
    this.fail('syntax', at, `unexpected text after the fields: ${JSON.stringify(rest.slice(0, 40))}.`)
  }
}

const parseFieldValue = (key: string, raw: string): { key: string; type: FieldType; value: number } => {
  const first = raw[0]
  if (first === 't' || first === 'T') {
    return { key, type: 'boolean', value: 1 }
  }
  if (first === 'f' || first === 'F') {
    return { key, type: 'boolean', value: 0 }
  }
  if (raw.endsWith('i')) {
    return { key, type: 'integer', value: Number(raw.slice(0, -1)) }
  }
  return { key, type: 'float', value: Number(raw) }
}

/**
 * Splits a body into lines as InfluxDB's `scanLine` does: a line break inside a quoted field
 * value, or right after a backslash, does not end the line.
 */
function* influxLines(body: string): Generator<{ number: number; block: string }> {
  let number = 1
  let i = 0
  while (i <= body.length) {
    const start = i
    let quoted = false
    let fields = false
    let equals = 0
    let commas = 0
    while (i < body.length) {
      const c = body[i]
      if (c === '\\' && i + 2 < body.length) {
        i += 2
        continue
      }
      if (c === ' ') {
        fields = true
      }
      if (fields) {
        if (!quoted && c === '=') {
          i++
          equals++
          continue
        }
        if (!quoted && c === ',') {
          i++
          commas++
          continue
        }
        if (c === '"' && equals > commas) {
          i++
          quoted = !quoted
          continue
        }
      }
      if (c === '\n' && !quoted) {
        break
      }
      i++
    }
    const block = body.slice(start, i)
    yield { number, block }
    number += 1 + lineBreaks(block)
    i++
  }
}

const lineBreaks = (text: string): number => {
  let count = 0
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) {
    count++
  }
  return count
}

/**
 * The labels of a line in one canonical string. Label names are unique within a line, and
 * control characters are refused in lines, so U+0000 and U+0001 can separate the parts.
 */
const labelsKey = (tags: ParsedLine['tags']): string => {
  const sorted = tags.every((tag, i) => i === 0 || tags[i - 1]![0] < tag[0])
    ? tags
    : [...tags].sort((a, b) => (a[0] < b[0] ? -1 : 1))
  let key = ''
  for (const [name, value] of sorted) {
    key += `${name}\u0001${value}\u0000`
  }
  return key
}

/**
 * Parses a Send Raw Data body. Blank lines and `#` comments are skipped; any invalid line
 * throws a {@link LineProtocolError} naming its line and column, so nothing is sent.
 */
export const parseRawData = (body: string): ParsedLine[] => {
  const bytes = utf8Bytes(body)
  if (bytes > limits.maxRawBodyBytes) {
    throw new LineProtocolError(
      'body-too-large',
      0,
      0,
      `the data is ${bytes} bytes; send at most ${limits.maxRawBodyBytes} bytes (1 MiB) per card.`
    )
  }
  const lines: ParsedLine[] = []
  const seenSeries = new Map<string, number>()
  for (const { number, block } of influxLines(body)) {
    const start = block.search(/[^ \t]/u)
    if (block.includes('\n')) {
      const ends = number + lineBreaks(block)
      throw new LineProtocolError(
        'line-break',
        number,
        Math.max(start, 0) + 1,
        `Grafana reads lines ${number} to ${ends} as one line, because of an open quote or a backslash before the line break${
          block[start] === '#' ? ', and would skip them all as a comment' : ''
        }: close the quote or remove the backslash.`
      )
    }
    if (start === -1 || block[start] === '#') {
      continue
    }
    const text = block.slice(start).replace(/ +$/u, '')
    const parsed = new LineScanner(text, number, start).parse()
    const labels = labelsKey(parsed.tags)
    for (const series of parsed.series) {
      const key = `${series}\u0000${labels}`
      const earlier = seenSeries.get(key)
      if (earlier !== undefined) {
        throw new LineProtocolError(
          'duplicate-series',
          number,
          start + 1,
          `line ${earlier} already writes the series ${series} with the same labels; both would get the same timestamp and one would be lost.`
        )
      }
      seenSeries.set(key, number)
    }
    lines.push(parsed)
  }
  return lines
}
