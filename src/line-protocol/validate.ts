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
  /** Where the series key (measurement and tags) ends in `text`: the space before the fields. */
  readonly keyEnd: number
  readonly measurement: string
  readonly tags: ReadonlyArray<readonly [string, string]>
  readonly fields: ReadonlyArray<{ readonly key: string; readonly type: FieldType }>
  /** The Prometheus series Grafana stores, one per field. */
  readonly series: readonly string[]
}

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/u
// Mimir's default cap is 30 labels; two go to __name__ and __mimir_source__.
const MAX_TAGS_PER_LINE = 28
const NON_ASCII = /[^\u0000-\u007f]/u

// Character codes: the scanner compares numbers, not one-character strings (measured 2-3x faster).
const BACKSLASH = 92
const COMMA = 44
const SPACE = 32
const EQUALS = 61
const QUOTE = 34
const NEWLINE = 10
const TAB = 9
const HASH = 35
const MINUS = 45
const PLUS = 43
const DOT = 46
const ZERO = 48
const NINE = 57
const LOWER_E = 101
const UPPER_E = 69
const LOWER_I = 105
const LOWER_U = 117
const LOWER_N = 110
const UPPER_N = 78
const LOWER_T = 116
const UPPER_T = 84
const LOWER_F = 102
const UPPER_F = 70

const BOOLEAN_WORDS = ['true', 'True', 'TRUE', 'false', 'False', 'FALSE']

const isDigitOrDot = (c: number): boolean => (c >= ZERO && c <= NINE) || c === DOT

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
    const measurementLabel = sanitizeName(measurement)
    if (measurementLabel !== measurement && WHITESPACE.test(measurement)) {
      this.fail(
        'measurement-whitespace',
        measurementEnd,
        'the measurement (metric name) contains whitespace, even escaped: use _ instead.'
      )
    }
    this.checkName(measurement, measurementLabel, 0, 'measurement')

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
    const series: string[] = []
    const fields = this.walkFields(fieldsStart, fieldsEnd, position, measurement, measurementLabel === measurement, series)
    this.checkTrailing(fieldsEnd)
    for (const name of series) {
      if (exceedsBytes(name, limits.maxValueBytes)) {
        this.fail('too-long', 0, `the series name ${name.slice(0, 40)}… is ${utf8Bytes(name)} bytes; Grafana accepts at most ${limits.maxValueBytes}.`)
      }
    }
    return { number: this.lineNumber, text: text.slice(0, fieldsEnd), keyEnd: position, measurement, tags, fields, series }
  }

  /** `label` is `sanitizeName(name)`: a name it leaves as it is is ASCII already. */
  private checkName(name: string, label: string, index: number, what: string): void {
    if (label !== name && NON_ASCII.test(name)) {
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
    if (text.charCodeAt(0) === COMMA) {
      this.fail('syntax', 0, 'missing measurement: a line starts with the metric name.')
    }
    for (let i = 1; ; i++) {
      if (i >= text.length) {
        this.fail('syntax', i, 'missing fields: a line needs at least one field, e.g. "requests value=1".')
      }
      if (text.charCodeAt(i - 1) === BACKSLASH) {
        continue
      }
      const c = text.charCodeAt(i)
      if (c === COMMA) {
        return { end: i, hasTags: true }
      }
      if (c === SPACE) {
        return { end: i, hasTags: false }
      }
    }
  }

  private scanTags(start: number, tags: Array<[string, string]>): number {
    const { text } = this
    // Lines have few tags: arrays beat sets and maps here (the validator runs per card call).
    const rawKeys: string[] = []
    let i = start
    for (;;) {
      const keyStart = i
      const first = text.charCodeAt(i)
      if (i >= text.length || first === SPACE || first === COMMA || first === EQUALS) {
        this.fail('syntax', i, 'missing tag key.')
      }
      for (;;) {
        i++
        const c = text.charCodeAt(i)
        const escaped = text.charCodeAt(i - 1) === BACKSLASH
        if (i >= text.length || ((c === SPACE || c === COMMA) && !escaped)) {
          this.fail('syntax', i, 'missing tag value: write key=value.')
        }
        if (c === EQUALS && !escaped) {
          break
        }
      }
      const rawKey = text.slice(keyStart, i)
      i++
      const valueStart = i
      const firstOfValue = text.charCodeAt(i)
      if (i >= text.length || firstOfValue === COMMA || firstOfValue === SPACE) {
        this.fail('syntax', i, `missing tag value for ${JSON.stringify(rawKey)}: empty values are not allowed.`)
      }
      let c: number
      for (;;) {
        i++
        if (i >= text.length) {
          this.fail('syntax', i, 'missing fields: a line needs at least one field after the tags.')
        }
        if (text.charCodeAt(i - 1) === BACKSLASH) {
          continue
        }
        c = text.charCodeAt(i)
        if (c === EQUALS) {
          this.fail('syntax', i, 'invalid tag format: an = inside a tag value must be escaped as \\=.')
        }
        if (c === COMMA || c === SPACE) {
          break
        }
      }
      this.addTag(rawKey, text.slice(valueStart, i), keyStart, rawKeys, tags)
      if (c === SPACE) {
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
    tags: Array<[string, string]>
  ): void {
    if (rawKeys.includes(rawKey)) {
      this.fail('syntax', index, `duplicate tag ${JSON.stringify(rawKey)}.`)
    }
    rawKeys.push(rawKey)
    const key = unescapeTag(rawKey)
    const value = unescapeTag(rawValue)
    const label = sanitizeName(key)
    this.checkName(key, label, index, 'tag key')
    if (key === RESERVED_KEY) {
      this.fail('reserved-name', index, 'the tag key "time" is reserved by InfluxDB line protocol.')
    }
    if (label.startsWith('__')) {
      this.fail('reserved-name', index, `the tag ${JSON.stringify(key)} becomes the label ${label}; names starting with __ are reserved.`)
    }
    let clash = 0
    while (clash < tags.length && tags[clash]![0] !== label) {
      clash++
    }
    if (clash < tags.length) {
      this.fail('duplicate-label', index, `the tags ${JSON.stringify(unescapeTag(rawKeys[clash]!))} and ${JSON.stringify(key)} both become the label ${label}.`)
    }
    if (exceedsBytes(label, limits.maxLabelNameBytes)) {
      this.fail('too-long', index, `the tag key is longer than ${limits.maxLabelNameBytes} bytes.`)
    }
    if (exceedsBytes(value, limits.maxValueBytes)) {
      this.fail('too-long', index, `the value of tag ${label} is longer than ${limits.maxValueBytes} bytes.`)
    }
    tags.push([label, value])
  }

  private skipSpaces(i: number): number {
    while (this.text.charCodeAt(i) === SPACE) {
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
      const c = text.charCodeAt(i)
      if (c === BACKSLASH && i + 1 < text.length) {
        i += 2
        continue
      }
      if (c === QUOTE && equals > commas) {
        quoted = !quoted
        i++
        continue
      }
      if (c === EQUALS && !quoted) {
        equals++
        const before = text.charCodeAt(i - 1)
        if ((before === SPACE || before === COMMA) && text.charCodeAt(i - 2) !== BACKSLASH) {
          this.fail('syntax', i, 'missing field key before =.')
        }
        const next = text.charCodeAt(i + 1)
        if (i + 1 >= text.length || next === COMMA || next === SPACE) {
          this.fail('syntax', i + 1, 'missing field value after =.')
        }
        if (isDigitOrDot(next) || next === MINUS || next === UPPER_N || next === LOWER_N) {
          i = this.scanNumber(i + 1)
          continue
        }
        if (next !== QUOTE) {
          i = this.scanBoolean(i + 1)
          continue
        }
      }
      if (c === COMMA && !quoted) {
        commas++
      }
      if (c === SPACE && !quoted) {
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
    const negative = text.charCodeAt(i) === MINUS
    if (negative) {
      i++
      if (i === text.length) {
        this.invalidNumber(i)
      }
    }
    while (i < text.length) {
      const c = text.charCodeAt(i)
      if (c === COMMA || c === SPACE) {
        break
      }
      if (c === LOWER_I && i > start && !(isInt || isUnsigned)) {
        isInt = true
        i++
        continue
      }
      if (c === LOWER_U && i > start && !(isInt || isUnsigned)) {
        isUnsigned = true
        i++
        continue
      }
      if (c === DOT) {
        if (decimal) {
          this.invalidNumber(i)
        }
        decimal = true
      }
      if (i > start && (c === LOWER_E || c === UPPER_E)) {
        scientific = true
        i++
        continue
      }
      if (c === PLUS || c === MINUS) {
        const before = text.charCodeAt(i - 1)
        if (before === LOWER_E || before === UPPER_E) {
          i++
          continue
        }
      }
      if (i + 2 < text.length && (c === UPPER_N || c === LOWER_N)) {
        this.fail('syntax', i, 'NaN is not a valid value.')
      }
      if (!isDigitOrDot(c)) {
        this.invalidNumber(i)
      }
      i++
    }
    if ((isInt || isUnsigned) && (decimal || scientific)) {
      this.invalidNumber(start)
    }
    let digits = i - start
    if (isInt) digits--
    if (decimal) digits--
    if (negative) digits--
    if (digits === 0) {
      this.invalidNumber(start)
    }
    const last = text.charCodeAt(i - 1)
    if (isUnsigned) {
      if (last !== LOWER_U || negative) {
        this.invalidNumber(start)
      }
      this.fail('unsigned-field', start, 'unsigned integers (12u) are dropped by Grafana without a word: use 12i or 12.')
    }
    if (isInt) {
      if (last !== LOWER_I) {
        this.invalidNumber(start)
      }
      // Here the text is -?[0-9]+i, and 18 digits always fit in 64 bits.
      if (digits > 18) {
        const value = BigInt(text.slice(start, i - 1))
        if (value < INT64_MIN || value > INT64_MAX) {
          this.fail('syntax', start, 'integer out of range: integers are 64-bit signed.')
        }
      }
    } else if ((scientific || digits > 300) && !Number.isFinite(Number(text.slice(start, i)))) {
      // Without an exponent, a number needs over 300 digits to overflow a double.
      this.fail('syntax', start, 'invalid float: the number is out of range.')
    }
    return i
  }

  private invalidNumber(at: number): never {
    this.fail('syntax', at, 'invalid number: use 12.5 (float), 12i (integer), or true/false.')
  }

  private scanBoolean(start: number): number {
    const { text } = this
    const first = text.charCodeAt(start)
    if (first !== LOWER_T && first !== LOWER_F && first !== UPPER_T && first !== UPPER_F) {
      this.fail(
        'syntax',
        start,
        'invalid value: use a number (12.5, 12i), true/false, or a quoted string (refused: Grafana drops strings).'
      )
    }
    let i = start + 1
    while (i < text.length) {
      const c = text.charCodeAt(i)
      if (c === COMMA || c === SPACE) {
        break
      }
      i++
    }
    if (i - start > 1) {
      const word = text.slice(start, i)
      if (!BOOLEAN_WORDS.includes(word)) {
        this.fail('syntax', start, `invalid boolean ${JSON.stringify(word.slice(0, 20))}: use true or false.`)
      }
    }
    return i
  }

  /**
   * InfluxDB's `walkFields` over the block checked by `scanFields`; adds each field's series to
   * `series`. `measurementClean`: sanitising leaves the measurement as it is.
   */
  private walkFields(
    start: number,
    end: number,
    keyEnd: number,
    measurement: string,
    measurementClean: boolean,
    series: string[]
  ): ParsedLine['fields'] {
    const { text } = this
    const fields: Array<{ key: string; type: FieldType }> = []
    let i = start
    while (i < end) {
      const keyStart = i
      while (i < end && !(text.charCodeAt(i) === EQUALS && (i === 0 || text.charCodeAt(i - 1) !== BACKSLASH))) {
        i++
      }
      // InfluxDB's walkFields finds the `=` by the previous-byte rule, scanFields by escape
      // pairs: `f\\=1` passes the one and fails the other.
      if (i > end - 2) {
        this.fail('syntax', keyStart, 'invalid field: no value after the field key (mind backslashes before =).')
      }
      const rawKey = text.slice(keyStart, i)
      const key = unescapeFieldKey(rawKey)
      const keyLimit = limits.maxSeriesKeyBytes - 4
      if ((keyEnd + rawKey.length) * 3 > keyLimit && utf8Bytes(text.slice(0, keyEnd)) + utf8Bytes(rawKey) > keyLimit) {
        this.fail('syntax', keyStart, `max key length exceeded: measurement, tags and field key exceed ${limits.maxSeriesKeyBytes} bytes.`)
      }
      i++
      const valueStart = i
      let quoted = false
      while (i < end) {
        const c = text.charCodeAt(i)
        if (c === BACKSLASH && i + 1 < end) {
          const next = text.charCodeAt(i + 1)
          if (next === QUOTE || next === BACKSLASH) {
            i += 2
            continue
          }
        }
        if (c === QUOTE) {
          quoted = !quoted
        } else if (c === COMMA && !quoted) {
          break
        }
        i++
      }
      const raw = text.slice(valueStart, i)
      i++
      const label = sanitizeName(key)
      this.checkName(key, label, keyStart, 'field key')
      if (key === RESERVED_KEY) {
        this.fail('reserved-name', keyStart, 'the field key "time" is reserved by InfluxDB line protocol.')
      }
      if (raw.charCodeAt(0) === QUOTE) {
        this.fail(
          'string-field',
          valueStart,
          `the field ${JSON.stringify(key)} is a string, which Grafana drops without a word: send a number instead.`
        )
      }
      for (const field of fields) {
        if (field.key === key) {
          this.fail('duplicate-field', keyStart, `duplicate field ${JSON.stringify(key)}.`)
        }
      }
      // Two clean names make a clean series name: no second scan of the whole of it.
      const name =
        measurementClean && label === key ? (key === 'value' ? measurement : `${measurement}_${key}`) : seriesName(measurement, key)
      const clash = series.indexOf(name)
      if (clash !== -1) {
        this.fail('duplicate-field', keyStart, `the fields ${JSON.stringify(fields[clash]!.key)} and ${JSON.stringify(key)} become the same series.`)
      }
      series.push(name)
      fields.push({ key, type: fieldType(raw) })
    }
    return fields
  }

  private checkTrailing(fieldsEnd: number): void {
    if (fieldsEnd === this.text.length) {
      return
    }
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

/** The type of a field value that `scanFields` accepted (strings are refused before). */
const fieldType = (raw: string): FieldType => {
  const first = raw.charCodeAt(0)
  if (first === LOWER_T || first === UPPER_T || first === LOWER_F || first === UPPER_F) {
    return 'boolean'
  }
  return raw.charCodeAt(raw.length - 1) === LOWER_I ? 'integer' : 'float'
}

/**
 * Where the line starting at `start` ends, found as InfluxDB's `scanLine` finds it: a line break
 * inside a quoted field value, or right after a backslash, does not end the line.
 */
const lineEnd = (body: string, start: number): number => {
  let i = start
  let quoted = false
  let fields = false
  let equals = 0
  let commas = 0
  while (i < body.length) {
    const c = body.charCodeAt(i)
    if (c === BACKSLASH && i + 2 < body.length) {
      i += 2
      continue
    }
    if (c === SPACE) {
      fields = true
    }
    if (fields) {
      if (!quoted && c === EQUALS) {
        i++
        equals++
        continue
      }
      if (!quoted && c === COMMA) {
        i++
        commas++
        continue
      }
      if (c === QUOTE && equals > commas) {
        i++
        quoted = !quoted
        continue
      }
    }
    if (c === NEWLINE && !quoted) {
      break
    }
    i++
  }
  return i
}

const indexOrEnd = (body: string, search: string, from: number): number => {
  const at = body.indexOf(search, from)
  return at === -1 ? body.length : at
}

const lineBreaks = (text: string): number => {
  let count = 0
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) {
    count++
  }
  return count
}

const lineBreakError = (block: string, number: number, indent: number): LineProtocolError =>
  new LineProtocolError(
    'line-break',
    number,
    indent + 1,
    `Grafana reads lines ${number} to ${number + lineBreaks(block)} as one line, because of an open quote or a backslash before the line break${
      block.charCodeAt(indent) === HASH ? ', and would skip them all as a comment' : ''
    }: close the quote or remove the backslash.`
  )

// FNV-1a over UTF-16 units: series are found by a number, and only equal numbers are compared.
const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

const fnv = (text: string, hash: number): number => {
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME)
  }
  return hash
}

/** A hash of a line's labels that does not depend on their order (a sum of one hash per label). */
const labelsHash = (tags: ParsedLine['tags']): number => {
  let sum = 0
  for (const tag of tags) {
    sum = (sum + fnv(tag[1], Math.imul(fnv(tag[0], FNV_OFFSET), FNV_PRIME))) | 0
  }
  return sum
}

const sameLabels = (a: ParsedLine['tags'], b: ParsedLine['tags']): boolean =>
  a.length === b.length && a.every((tag) => b.some((other) => other[0] === tag[0] && other[1] === tag[1]))

/**
 * The lines of a body so far, by the hash of each series they write (its name and labels); a
 * list only where two series share a hash. No object per series: a 1 MiB body writes 20,000.
 */
type SeenSeries = Map<number, ParsedLine | ParsedLine[]>

/** Refuses a line that writes a series an earlier line of the body already writes. */
const rememberSeries = (seen: SeenSeries, line: ParsedLine, column: number): void => {
  const labels = labelsHash(line.tags)
  for (const series of line.series) {
    const hash = fnv(series, labels ^ FNV_OFFSET)
    const same = seen.get(hash)
    if (same === undefined) {
      seen.set(hash, line)
      continue
    }
    const candidates = Array.isArray(same) ? same : [same]
    // Two series of one line that share a hash are different series: walkFields saw to that.
    const earlier = candidates.find((other) => other !== line && other.series.includes(series) && sameLabels(other.tags, line.tags))
    if (earlier !== undefined) {
      throw new LineProtocolError(
        'duplicate-series',
        line.number,
        column,
        `line ${earlier.number} already writes the series ${series} with the same labels; both would get the same timestamp and one would be lost.`
      )
    }
    seen.set(hash, [...candidates, line])
  }
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
  const seenSeries: SeenSeries = new Map()
  // Only a backslash or a quote can carry a line past a line break: a line without either ends
  // at the next one, found by a native search. The next backslash and quote are remembered, so
  // each search runs over the body once.
  let nextBackslash = -1
  let nextQuote = -1
  for (let number = 1, start = 0; start <= body.length; number++) {
    const breakAt = body.indexOf('\n', start)
    const stop = breakAt === -1 ? body.length : breakAt
    if (nextBackslash < start) {
      nextBackslash = indexOrEnd(body, '\\', start)
    }
    if (nextQuote < start) {
      nextQuote = indexOrEnd(body, '"', start)
    }
    const end = nextBackslash < stop || nextQuote < stop ? lineEnd(body, start) : stop
    let first = start
    while (first < end && (body.charCodeAt(first) === SPACE || body.charCodeAt(first) === TAB)) {
      first++
    }
    if (end > stop) {
      throw lineBreakError(body.slice(start, end), number, first - start)
    }
    if (first < end && body.charCodeAt(first) !== HASH) {
      let last = end
      while (body.charCodeAt(last - 1) === SPACE) {
        last--
      }
      const parsed = new LineScanner(body.slice(first, last), number, first - start).parse()
      rememberSeries(seenSeries, parsed, first - start + 1)
      lines.push(parsed)
    }
    start = end + 1
  }
  return lines
}
