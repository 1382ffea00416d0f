/**
 * Our rules for a line of Send Raw Data, stricter than InfluxDB's grammar (grammar.ts): what
 * Grafana would accept and then drop, mangle or refuse, and room for what the card adds to every
 * line (the `instance` tag, the timestamp). Each is documented in docs/raw-data.md.
 */
import {
  CONTROL_CHARACTER,
  duplicateLabelRefusal,
  exceedsBytes,
  INSTANCE_LABEL,
  INSTANCE_NAME_LENGTH,
  labelNameRefusal,
  labelValueRefusal,
  MAX_LABEL_VALUE_BYTES,
  quoted,
  RESERVED_KEY,
  sanitizeName,
  TIME_RESERVED,
  utf8Bytes,
  WHITESPACE,
  type LabelRefusal
} from '../label-names'
import { LineProtocolError } from './error'
import type { Point, ValueType } from './grammar'
import { FIELD_KEY_SEPARATOR_BYTES, MAX_SERIES_KEY_BYTES, seriesName } from './names'

export type FieldType = Exclude<ValueType, 'string' | 'unsigned'>

/** What Grafana stores for a line: its labels (sanitised tag keys and their values), fields and series. */
export interface CheckedLine {
  readonly tags: ReadonlyArray<readonly [string, string]>
  readonly fields: ReadonlyArray<{ readonly key: string; readonly type: FieldType }>
  /** The Prometheus series Grafana stores, one per field. */
  readonly series: readonly string[]
}

const NON_ASCII = /[^\u0000-\u007f]/u
// Mimir's default cap is 30 labels: __name__, __mimir_source__ and the card's instance take three.
const MAX_TAGS_PER_LINE = 27
/** The bytes the card adds to every line's key: `,instance=` and the instance name. */
const INSTANCE_TAG_BYTES = `,${INSTANCE_LABEL}=`.length + INSTANCE_NAME_LENGTH

/** Control characters, checked before the grammar: a line ending or a tab gets a hint of its own. */
export const checkCharacters = (text: string): void => {
  const control = CONTROL_CHARACTER.exec(text)
  if (control === null) {
    return
  }
  const char = control[0]
  const code = char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')
  const hint =
    char === '\r'
      ? ' (a Windows CRLF line ending?): end lines with LF only'
      : char === '\t'
        ? ' (a tab): separate the parts of a line with single spaces'
        : ''
  throw new LineProtocolError('control-character', control.index, `control character U+${code}${hint}.`)
}

/** `label` is `sanitizeName(name)`: a name it leaves as it is is ASCII already. */
const checkAscii = (name: string, label: string, index: number, what: string): void => {
  if (label !== name && NON_ASCII.test(name)) {
    throw new LineProtocolError(
      'non-ascii-name',
      index,
      `the ${what} ${JSON.stringify(name.slice(0, 60))} has non-ASCII characters, which Grafana mangles byte by byte: use A-Z, a-z, 0-9 and _.`
    )
  }
}

const checkMeasurement = ({ measurement, measurementEnd }: Point): void => {
  const label = sanitizeName(measurement)
  if (label !== measurement && WHITESPACE.test(measurement)) {
    throw new LineProtocolError(
      'measurement-whitespace',
      measurementEnd,
      'the measurement (metric name) contains whitespace, even escaped: use _ instead.'
    )
  }
  checkAscii(measurement, label, 0, 'measurement')
}

/** A label rule broken by the tag at `index`. */
const tagRefused = (key: string, index: number, { rule, reason }: LabelRefusal): LineProtocolError =>
  new LineProtocolError(rule, index, `the tag ${quoted(key)}: ${reason}`)

const checkTags = ({ tags, measurementEnd }: Point): Array<[string, string]> => {
  const labels: Array<[string, string]> = []
  const keyOf = new Map<string, string>()
  for (const { key, value, index } of tags) {
    const label = sanitizeName(key)
    checkAscii(key, label, index, 'tag key')
    const refusal = labelNameRefusal(key, label, { refuseWhitespace: false }) ?? labelValueRefusal(value)
    if (refusal !== undefined) {
      throw tagRefused(key, index, refusal)
    }
    const other = keyOf.get(label)
    if (other !== undefined) {
      throw tagRefused(key, index, duplicateLabelRefusal(other, label))
    }
    keyOf.set(label, key)
    labels.push([label, value])
  }
  if (tags.length > MAX_TAGS_PER_LINE) {
    throw new LineProtocolError(
      'too-many-labels',
      measurementEnd,
      `${tags.length} tags; Grafana accepts at most ${MAX_TAGS_PER_LINE} per series (with the instance tag the integration adds).`
    )
  }
  return labels
}

/**
 * InfluxDB's scanFields and walkFields find the fields' `=` signs by different rules (`\\=` is
 * an `=` to one and an escaped `=` to the other, and only scanFields knows quoted strings).
 * Where they disagree, Grafana reads fields the line does not seem to have.
 */
const checkAmbiguity = ({ fields, fieldEquals }: Point): void => {
  for (let at = 0; at < Math.max(fields.length, fieldEquals.length); at++) {
    if (fields[at]?.equalsAt !== fieldEquals[at]) {
      const field = fields[Math.min(at, fields.length - 1)]!
      throw new LineProtocolError(
        'ambiguous-fields',
        field.index,
        `ambiguous fields: Grafana's parser would read a field ${JSON.stringify(field.key.slice(0, 60))} here, not the fields as written (mind a \\\\ right before =, and = or , inside quoted strings).`
      )
    }
  }
}

const checkFields = (text: string, point: Point): Pick<CheckedLine, 'fields' | 'series'> => {
  checkAmbiguity(point)
  const keyBytes = utf8Bytes(text.slice(0, point.keyEnd)) + INSTANCE_TAG_BYTES + FIELD_KEY_SEPARATOR_BYTES
  const fields: Array<{ key: string; type: FieldType }> = []
  const series: string[] = []
  for (const { rawKey, key, index, valueIndex, type } of point.fields) {
    checkAscii(key, sanitizeName(key), index, 'field key')
    if (key === RESERVED_KEY) {
      throw new LineProtocolError(TIME_RESERVED.rule, index, `the field key "time": ${TIME_RESERVED.reason}`)
    }
    if (type === 'string') {
      throw new LineProtocolError(
        'string-field',
        valueIndex,
        `the field ${JSON.stringify(key)} is a string, which Grafana drops without a word: send a number instead.`
      )
    }
    if (type === 'unsigned') {
      throw new LineProtocolError(
        'unsigned-field',
        valueIndex,
        'unsigned integers (12u) are dropped by Grafana without a word: use 12i or 12.'
      )
    }
    if (fields.some((field) => field.key === key)) {
      throw new LineProtocolError('duplicate-field', index, `duplicate field ${JSON.stringify(key)}.`)
    }
    const name = seriesName(point.measurement, key)
    const clash = series.indexOf(name)
    if (clash !== -1) {
      throw new LineProtocolError(
        'duplicate-field',
        index,
        `the fields ${JSON.stringify(fields[clash]!.key)} and ${JSON.stringify(key)} become the same series.`
      )
    }
    if (keyBytes + utf8Bytes(rawKey) > MAX_SERIES_KEY_BYTES) {
      throw new LineProtocolError(
        'too-long',
        index,
        `max key length exceeded: measurement, tags and field key exceed ${MAX_SERIES_KEY_BYTES} bytes with the instance tag the integration adds.`
      )
    }
    series.push(name)
    fields.push({ key, type })
  }
  return { fields, series }
}

/** Our rules for a line the grammar accepted, in the order a reader meets the parts of the line. */
export const checkPoint = (text: string, point: Point): CheckedLine => {
  checkMeasurement(point)
  const tags = checkTags(point)
  const { fields, series } = checkFields(text, point)
  if (point.timestampAt !== undefined) {
    throw new LineProtocolError(
      'timestamp',
      point.timestampAt,
      'the line has a timestamp: remove it, the integration adds the time of sending.'
    )
  }
  for (const name of series) {
    if (exceedsBytes(name, MAX_LABEL_VALUE_BYTES)) {
      throw new LineProtocolError(
        'too-long',
        0,
        `the series name ${name.slice(0, 40)}… is ${utf8Bytes(name)} bytes; Grafana accepts at most ${MAX_LABEL_VALUE_BYTES}.`
      )
    }
  }
  return { tags, fields, series }
}
