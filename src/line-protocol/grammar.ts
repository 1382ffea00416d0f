/**
 * InfluxDB's line-protocol parser (`models/points.go` and `pkg/escape`, the package Grafana's
 * influx endpoint parses with), ported function by function under InfluxDB's names, so each
 * reads beside its original. It accepts what that parser accepts, reads names and values the
 * way it reads them, and refuses the rest with a {@link syntaxError} saying where and why.
 * What Grafana then does with an accepted line is for rules.ts.
 */
import { syntaxError, type LineProtocolError } from './error'
import { parseBoolOk, parseFloatOk, parseIntOk, parseUintOk } from './strconv'

/** A field value's type, as InfluxDB's field iterator tells it from the value's text. */
export type ValueType = 'float' | 'integer' | 'unsigned' | 'boolean' | 'string'

export interface Tag {
  /** The key as written, escapes included: InfluxDB tells duplicate tags by it. */
  readonly rawKey: string
  readonly key: string
  readonly value: string
  readonly index: number
}

export interface Field {
  readonly rawKey: string
  readonly key: string
  readonly index: number
  /** Where walkFields found the `=` after the key. */
  readonly equalsAt: number
  readonly valueIndex: number
  readonly type: ValueType
}

export interface Point {
  /** The measurement as InfluxDB's `Name()` reads it. */
  readonly measurement: string
  readonly measurementEnd: number
  readonly tags: readonly Tag[]
  /** Where the measurement and tags end: the space before the fields. */
  readonly keyEnd: number
  /** The fields as walkFields splits them, which is how Grafana reads them. */
  readonly fields: readonly Field[]
  /** Where scanFields found each field's `=`: not always where walkFields found it. */
  readonly fieldEquals: readonly number[]
  readonly fieldsEnd: number
  /** Where the timestamp starts, if the line has one. */
  readonly timestampAt: number | undefined
}

const isNumeric = (c: string | undefined): boolean => c !== undefined && ((c >= '0' && c <= '9') || c === '.')

/** `skipWhitespace`: spaces, tabs and NUL bytes. */
const skipWhitespace = (text: string, from: number): number => {
  let i = from
  while (text[i] === ' ' || text[i] === '\t' || text[i] === '\u0000') {
    i++
  }
  return i
}

/**
 * `escape.Unescape`, which `Name()` applies to the measurement: `\,`, `\"`, `\ ` and `\=` lose
 * their backslash, any other backslash stays.
 */
const unescape = (raw: string): string => (raw.includes('\\') ? raw.replace(/\\([,=" ])/gu, '$1') : raw)

/** `unescapeTag`: only `\,`, `\ ` and `\=` are escapes in tags; any other backslash is literal. */
const unescapeTag = (raw: string): string => (raw.includes('\\') ? raw.replace(/\\([,= ])/gu, '$1') : raw)

/** `escape.AppendUnescaped`, which the field iterator applies to field keys. */
const unescapeFieldKey = unescape

/** `scanLine`: a line break inside a quoted field value, or right after a backslash, does not end the line. */
export const scanLine = (body: string, start: number): number => {
  let i = start
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
  return i
}

/** `scanMeasurement`: a character right after a backslash is escaped, whatever that backslash is. */
const scanMeasurement = (text: string): { end: number; hasTags: boolean } => {
  if (text[0] === ',') {
    throw syntaxError(0, 'missing measurement: a line starts with the metric name.')
  }
  for (let i = 1; ; i++) {
    if (i >= text.length) {
      throw syntaxError(i, 'missing fields: a line needs at least one field, e.g. "requests value=1".')
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

/** `scanTags` with `scanTagsKey` and `scanTagsValue`, and scanKey's duplicate check; returns where the tags end. */
const scanTags = (text: string, start: number, tags: Tag[]): number => {
  let i = start
  for (;;) {
    const keyStart = i
    if (i >= text.length || text[i] === ' ' || text[i] === ',' || text[i] === '=') {
      throw syntaxError(i, 'missing tag key.')
    }
    for (;;) {
      i++
      const escaped = text[i - 1] === '\\'
      if (i >= text.length || ((text[i] === ' ' || text[i] === ',') && !escaped)) {
        throw syntaxError(i, 'missing tag value: write key=value.')
      }
      if (text[i] === '=' && !escaped) {
        break
      }
    }
    const rawKey = text.slice(keyStart, i)
    i++
    const valueStart = i
    if (i >= text.length || text[i] === ',' || text[i] === ' ') {
      throw syntaxError(i, `missing tag value for ${JSON.stringify(rawKey)}: empty values are not allowed.`)
    }
    for (;;) {
      i++
      if (i >= text.length) {
        throw syntaxError(i, 'missing fields: a line needs at least one field after the tags.')
      }
      if (text[i - 1] === '\\') {
        continue
      }
      if (text[i] === '=') {
        throw syntaxError(i, 'invalid tag format: an = inside a tag value must be escaped as \\=.')
      }
      if (text[i] === ',' || text[i] === ' ') {
        break
      }
    }
    if (tags.some((tag) => tag.rawKey === rawKey)) {
      throw syntaxError(keyStart, `duplicate tag ${JSON.stringify(rawKey)}.`)
    }
    tags.push({ rawKey, key: unescapeTag(rawKey), value: unescapeTag(text.slice(valueStart, i)), index: keyStart })
    if (text[i] === ' ') {
      return i
    }
    i++
  }
}

const invalidNumber = (at: number): LineProtocolError =>
  syntaxError(at, 'invalid number: use 12.5 (float), 12i (integer), or true/false.')

/** `scanNumber`, with unsigned integers on, as in Grafana's parser; returns where the number ends. */
const scanNumber = (text: string, start: number): number => {
  let i = start
  let isInt = false
  let isUnsigned = false
  let decimal = false
  let scientific = false
  const negative = text[i] === '-'
  if (negative) {
    i++
    if (i === text.length) {
      throw invalidNumber(i)
    }
  }
  while (i < text.length) {
    const c = text[i]
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
        throw invalidNumber(i)
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
      throw syntaxError(i, 'NaN is not a valid value.')
    }
    if (!isNumeric(c)) {
      throw invalidNumber(i)
    }
    i++
  }
  if ((isInt || isUnsigned) && (decimal || scientific)) {
    throw invalidNumber(start)
  }
  let digits = i - start
  if (isInt) digits--
  if (decimal) digits--
  if (negative) digits--
  if (digits === 0) {
    throw invalidNumber(start)
  }
  if (isInt) {
    if (text[i - 1] !== 'i') {
      throw invalidNumber(start)
    }
    if (i - 1 - start >= 19 && !parseIntOk(text.slice(start, i - 1))) {
      throw syntaxError(start, 'integer out of range: integers are 64-bit signed.')
    }
  } else if (isUnsigned) {
    if (text[i - 1] !== 'u' || negative) {
      throw invalidNumber(start)
    }
    if (i - 1 - start >= 20 && !parseUintOk(text.slice(start, i - 1))) {
      throw syntaxError(start, 'unsigned integer out of range: unsigned integers are 64-bit.')
    }
  } else if ((scientific || i - start >= 25) && !parseFloatOk(text.slice(start, i))) {
    throw syntaxError(start, 'invalid float: the number is out of range.')
  }
  return i
}

/** `scanBoolean`; returns where the value ends. */
const scanBoolean = (text: string, start: number): number => {
  const first = text[start]
  if (first !== 't' && first !== 'f' && first !== 'T' && first !== 'F') {
    throw syntaxError(
      start,
      'invalid value: use a number (12.5, 12i), true/false, or a quoted string (refused: Grafana drops strings).'
    )
  }
  let i = start + 1
  while (i < text.length && text[i] !== ',' && text[i] !== ' ') {
    i++
  }
  const word = text.slice(start, i)
  if (word.length > 1 && !['true', 'True', 'TRUE', 'false', 'False', 'FALSE'].includes(word)) {
    throw syntaxError(start, `invalid boolean ${JSON.stringify(word.slice(0, 20))}: use true or false.`)
  }
  return i
}

/** `scanFields`: checks the block's shape and says where it ends and where its `=` signs are. */
const scanFields = (text: string, from: number): { end: number; equals: number[] } => {
  let i = skipWhitespace(text, from)
  let quoted = false
  const equals: number[] = []
  let commas = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '\\' && i + 1 < text.length) {
      i += 2
      continue
    }
    if (c === '"' && equals.length > commas) {
      quoted = !quoted
      i++
      continue
    }
    if (c === '=' && !quoted) {
      equals.push(i)
      if ((text[i - 1] === ' ' || text[i - 1] === ',') && text[i - 2] !== '\\') {
        throw syntaxError(i, 'missing field key before =.')
      }
      const next = text[i + 1]
      if (next === undefined || next === ',' || next === ' ') {
        throw syntaxError(i + 1, 'missing field value after =.')
      }
      if (isNumeric(next) || next === '-' || next === 'N' || next === 'n') {
        i = scanNumber(text, i + 1)
        continue
      }
      if (next !== '"') {
        i = scanBoolean(text, i + 1)
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
    throw syntaxError(i, 'unbalanced quotes in a string field.')
  }
  if (equals.length === 0 || commas !== equals.length - 1) {
    throw syntaxError(i, 'invalid field format: write key=value pairs separated by commas.')
  }
  return { end: i, equals }
}

/** `scanTo` for `=`: the first one not right after a backslash. */
const scanToEquals = (text: string, from: number, end: number): number => {
  let i = from
  while (i < end && !(text[i] === '=' && text[i - 1] !== '\\')) {
    i++
  }
  return i
}

/** `scanFieldValue`: up to a comma outside quotes; only `\"` and `\\` are escapes here. */
const scanFieldValue = (text: string, from: number, end: number): number => {
  let i = from
  let quoted = false
  while (i < end) {
    const c = text[i]
    if (c === '\\' && i + 1 < end && (text[i + 1] === '"' || text[i + 1] === '\\')) {
      i += 2
      continue
    }
    if (c === '"') {
      quoted = !quoted
    } else if (c === ',' && !quoted) {
      break
    }
    i++
  }
  return i
}

const misread = (at: number, key: string, problem: string): LineProtocolError =>
  syntaxError(
    at,
    `${problem}: InfluxDB's parser reads it as the value of a field ${JSON.stringify(key)} (mind backslashes before = and quotes).`
  )

/**
 * The field iterator's `Next()`, which types a value by its first and last characters, and the
 * check `Fields()` makes of it (`FloatValue()`, `IntegerValue()`, …): scanFields checked the
 * values it saw, but walkFields can split the block elsewhere and find others.
 */
const typeValue = (value: string, key: string, at: number): ValueType => {
  if (value === '') {
    throw misread(at, key, 'missing field value')
  }
  if (value.startsWith('"')) {
    return 'string'
  }
  if ('0123456789-.nNiIu'.includes(value[0]!)) {
    const digits = value.slice(0, -1)
    if (value.endsWith('i')) {
      if (!parseIntOk(digits)) throw misread(at, key, `unable to parse integer value ${JSON.stringify(digits)}`)
      return 'integer'
    }
    if (value.endsWith('u')) {
      if (!parseUintOk(digits)) throw misread(at, key, `unable to parse unsigned value ${JSON.stringify(digits)}`)
      return 'unsigned'
    }
    if (!parseFloatOk(value)) throw misread(at, key, `unable to parse floating point value ${JSON.stringify(value)}`)
    return 'float'
  }
  if (!parseBoolOk(value)) throw misread(at, key, `unable to parse bool value ${JSON.stringify(value)}`)
  return 'boolean'
}

/** `walkFields` over the block scanFields checked, typing each value as `Fields()` does. */
const walkFields = (text: string, start: number, end: number): Field[] => {
  const fields: Field[] = []
  let i = start
  while (i < end) {
    const keyStart = i
    i = scanToEquals(text, i, end)
    // scanFields skips `\\` as one escape and counts the `=` after it; walkFields sees an
    // escaped `=` there, so `f\\=1` passes the one and fails the other.
    if (i > end - 2) {
      throw syntaxError(keyStart, 'invalid field: no value after the field key (mind backslashes before =).')
    }
    const rawKey = text.slice(keyStart, i)
    const key = unescapeFieldKey(rawKey)
    const equalsAt = i
    const valueIndex = i + 1
    i = scanFieldValue(text, valueIndex, end)
    const type = typeValue(text.slice(valueIndex, i), key, valueIndex)
    fields.push({ rawKey, key, index: keyStart, equalsAt, valueIndex, type })
    i++
  }
  return fields
}

/**
 * `scanTime` and parsePoint's check after it: an optional integer, then nothing but spaces.
 * Its range is not checked: rules.ts refuses every timestamp.
 */
const scanTime = (text: string, from: number): number | undefined => {
  const start = skipWhitespace(text, from)
  if (start >= text.length) {
    return undefined
  }
  if (!/^-?[0-9]+ *$/u.test(text.slice(start))) {
    throw syntaxError(
      start,
      `unexpected text after the fields: ${JSON.stringify(text.slice(start).trim().slice(0, 40))}.`
    )
  }
  return start
}

/**
 * `parsePoint` for one line without leading whitespace or its line break. The key length limit
 * (`MaxKeyLength`) is checked in rules.ts, on the line as the card sends it.
 */
export const parsePoint = (text: string): Point => {
  const { end: measurementEnd, hasTags } = scanMeasurement(text)
  const tags: Tag[] = []
  const keyEnd = hasTags ? scanTags(text, measurementEnd + 1, tags) : measurementEnd
  const { end: fieldsEnd, equals: fieldEquals } = scanFields(text, keyEnd)
  const fields = walkFields(text, skipWhitespace(text, keyEnd), fieldsEnd)
  const timestampAt = scanTime(text, fieldsEnd)
  return {
    measurement: unescape(text.slice(0, measurementEnd)),
    measurementEnd,
    tags,
    keyEnd,
    fields,
    fieldEquals,
    fieldsEnd,
    timestampAt
  }
}
