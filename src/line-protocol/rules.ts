/**
 * Our rules for a line of Send Raw Data, stricter than InfluxDB's grammar (grammar.ts): what
 * Grafana would accept and then drop, mangle or refuse, and room for what the card adds to every
 * line (the `instance` tag, the timestamp). Each is documented in hub.md.
 */
import { exceedsBytes, limits, utf8Bytes } from '../limits'
import { INSTANCE_LABEL, INSTANCE_NAME_LENGTH } from '../sample-clock'
import type { Point, ValueType } from './grammar'
import { RESERVED_KEY, sanitizeName, seriesName, WHITESPACE } from './names'

/**
 * Why a line is refused. `syntax` is InfluxDB's own grammar; every other rule is ours, stricter
 * than InfluxDB.
 */
export type Rule =
  | 'syntax'
  | 'timestamp'
  | 'measurement-whitespace'
  | 'non-ascii-name'
  | 'control-character'
  | 'ambiguous-fields'
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

export class RuleViolation extends Error {
  public override readonly name = 'RuleViolation'
  public constructor(
    public readonly rule: Rule,
    /** Where in the line, in UTF-16 units. */
    public readonly index: number,
    public readonly reason: string
  ) {
    super(reason)
  }
}

export type FieldType = Exclude<ValueType, 'string' | 'unsigned'>

/** What Grafana stores for a line: its labels (sanitised tag keys and their values), fields and series. */
export interface CheckedLine {
  readonly tags: ReadonlyArray<readonly [string, string]>
  readonly fields: ReadonlyArray<{ readonly key: string; readonly type: FieldType }>
  /** The Prometheus series Grafana stores, one per field. */
  readonly series: readonly string[]
}

const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/u
const NON_ASCII = /[^\u0000-\u007f]/u
// Mimir's default cap is 30 labels: __name__, __mimir_source__ and the card's instance take three.
const MAX_TAGS_PER_LINE = 27
/** The bytes the card adds to every line's key: `,instance=` and the instance name. */
const INSTANCE_TAG_BYTES = `,${INSTANCE_LABEL}=`.length + INSTANCE_NAME_LENGTH
/** InfluxDB's `seriesKeySize` counts a 4-byte separator between the key and a field key. */
const FIELD_KEY_SEPARATOR_BYTES = 4

/** Control characters, checked before the grammar: a line ending or a tab gets a hint of its own. */
export const checkCharacters = (text: string): void => {
  const control = CONTROL_CHAR.exec(text)
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
  throw new RuleViolation('control-character', control.index, `control character U+${code}${hint}.`)
}

/** `label` is `sanitizeName(name)`: a name it leaves as it is is ASCII already. */
const checkAscii = (name: string, label: string, index: number, what: string): void => {
  if (label !== name && NON_ASCII.test(name)) {
    throw new RuleViolation(
      'non-ascii-name',
      index,
      `the ${what} ${JSON.stringify(name.slice(0, 60))} has non-ASCII characters, which Grafana mangles byte by byte: use A-Z, a-z, 0-9 and _.`
    )
  }
}

const checkMeasurement = ({ measurement, measurementEnd }: Point): void => {
  const label = sanitizeName(measurement)
  if (label !== measurement && WHITESPACE.test(measurement)) {
    throw new RuleViolation(
      'measurement-whitespace',
      measurementEnd,
      'the measurement (metric name) contains whitespace, even escaped: use _ instead.'
    )
  }
  checkAscii(measurement, label, 0, 'measurement')
}

const checkTags = ({ tags, measurementEnd }: Point): Array<[string, string]> => {
  const labels: Array<[string, string]> = []
  for (const { key, value, index } of tags) {
    const label = sanitizeName(key)
    checkAscii(key, label, index, 'tag key')
    if (key === RESERVED_KEY) {
      throw new RuleViolation('reserved-name', index, 'the tag key "time" is reserved by InfluxDB line protocol.')
    }
    if (label.startsWith('__')) {
      throw new RuleViolation(
        'reserved-name',
        index,
        `the tag ${JSON.stringify(key)} becomes the label ${label}; names starting with __ are reserved.`
      )
    }
    if (label === INSTANCE_LABEL) {
      throw new RuleViolation(
        'reserved-name',
        index,
        `the tag ${JSON.stringify(key)} is reserved: the integration labels every line with the instance that wrote it.`
      )
    }
    const clash = labels.findIndex(([other]) => other === label)
    if (clash !== -1) {
      throw new RuleViolation(
        'duplicate-label',
        index,
        `the tags ${JSON.stringify(tags[clash]!.key)} and ${JSON.stringify(key)} both become the label ${label}.`
      )
    }
    if (exceedsBytes(label, limits.maxLabelNameBytes)) {
      throw new RuleViolation('too-long', index, `the tag key is longer than ${limits.maxLabelNameBytes} bytes.`)
    }
    if (exceedsBytes(value, limits.maxValueBytes)) {
      throw new RuleViolation(
        'too-long',
        index,
        `the value of tag ${label} is longer than ${limits.maxValueBytes} bytes.`
      )
    }
    labels.push([label, value])
  }
  if (tags.length > MAX_TAGS_PER_LINE) {
    throw new RuleViolation(
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
      throw new RuleViolation(
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
      throw new RuleViolation('reserved-name', index, 'the field key "time" is reserved by InfluxDB line protocol.')
    }
    if (type === 'string') {
      throw new RuleViolation(
        'string-field',
        valueIndex,
        `the field ${JSON.stringify(key)} is a string, which Grafana drops without a word: send a number instead.`
      )
    }
    if (type === 'unsigned') {
      throw new RuleViolation(
        'unsigned-field',
        valueIndex,
        'unsigned integers (12u) are dropped by Grafana without a word: use 12i or 12.'
      )
    }
    if (fields.some((field) => field.key === key)) {
      throw new RuleViolation('duplicate-field', index, `duplicate field ${JSON.stringify(key)}.`)
    }
    const name = seriesName(point.measurement, key)
    const clash = series.indexOf(name)
    if (clash !== -1) {
      throw new RuleViolation(
        'duplicate-field',
        index,
        `the fields ${JSON.stringify(fields[clash]!.key)} and ${JSON.stringify(key)} become the same series.`
      )
    }
    if (keyBytes + utf8Bytes(rawKey) > limits.maxSeriesKeyBytes) {
      throw new RuleViolation(
        'too-long',
        index,
        `max key length exceeded: measurement, tags and field key exceed ${limits.maxSeriesKeyBytes} bytes with the instance tag the integration adds.`
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
    throw new RuleViolation(
      'timestamp',
      point.timestampAt,
      'the line has a timestamp: remove it, the integration adds the time of sending.'
    )
  }
  for (const name of series) {
    if (exceedsBytes(name, limits.maxValueBytes)) {
      throw new RuleViolation(
        'too-long',
        0,
        `the series name ${name.slice(0, 40)}… is ${utf8Bytes(name)} bytes; Grafana accepts at most ${limits.maxValueBytes}.`
      )
    }
  }
  return { tags, fields, series }
}
