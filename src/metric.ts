/**
 * Send Metric: turns a card's input into one line of line protocol and the labels it stores.
 */
import { writeLines, type WriteOptions } from './client'
import type { Configuration } from './config'
import { UserFacingError } from './errors'
import { exceedsBytes, limits, utf8Bytes } from './limits'
import { appendTag, encodeLine, escapeTagValue, isPlainLabelValue, labelValue } from './line-protocol/encode'
import { RESERVED_KEY, sanitizeName, WHITESPACE } from './line-protocol/names'
import type { SendMetricInput } from './schemas'

/** The field every Send Metric line carries; the series is therefore `<name>_metric`. */
const METRIC_FIELD = 'metric'

// In name order: the canonical tag order starts from these.
const BUILT_IN_LABELS = ['botId', 'channel', 'conversationId', 'userId', 'version'] as const
const BUILT_IN_LABELS_WITHOUT_IDS = BUILT_IN_LABELS.filter((name) => name !== 'conversationId' && name !== 'userId')

export interface MetricContext {
  /** The bot running the card, used when the botId input is empty. */
  readonly botId: string
  readonly includeConversationAndUserIds: boolean
}

export interface MetricEvent {
  readonly line: string
  readonly seriesName: string
  readonly labels: Readonly<Record<string, string>>
  readonly timestamp: number
}

// Decimal notation only: Number() would also take hexadecimal, binary and octal text.
const DECIMAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/u

// A field Studio did not render (the card was called from code, so the default stayed `{{…}}`).
const UNRENDERED_TEMPLATE = /^\{\{[^]*\}\}$/u

const isUnrendered = (text: string): boolean => text.includes('{{') && UNRENDERED_TEMPLATE.test(text.trim())

const textOf = (value: string | number | undefined): string => {
  if (value === undefined) {
    return ''
  }
  const text = String(value)
  return isUnrendered(text) ? '' : text
}

const parseName = (name: string): { measurement: string; series: string } => {
  if (name === '') {
    throw new UserFacingError('Metric name is empty: give the event a name such as flow_completed.')
  }
  const measurement = sanitizeName(name)
  const space = measurement === name ? null : WHITESPACE.exec(name)
  if (space) {
    const code = space[0].codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')
    throw new UserFacingError(
      `Metric name must not contain whitespace (found U+${code} at position ${space.index + 1}): use _ instead, e.g. flow_completed.`
    )
  }
  // Already clean, so appending `_metric` needs no sanitising.
  const series = `${measurement}_${METRIC_FIELD}`
  if (exceedsBytes(series, limits.maxValueBytes)) {
    throw new UserFacingError(
      `Metric name is too long: Grafana accepts series names up to ${limits.maxValueBytes} bytes.`
    )
  }
  return { measurement, series }
}

const parseValue = (value: SendMetricInput['value']): number => {
  if (value === undefined || (typeof value === 'string' && value.trim() === '')) {
    return 1
  }
  const text = typeof value === 'number' ? '' : value.trim()
  const number = typeof value === 'number' ? value : DECIMAL.test(text) ? Number(text) : Number.NaN
  if (!Number.isFinite(number)) {
    throw new UserFacingError(`Value must be a finite number such as 1 or 250.5 (got ${JSON.stringify(String(value).slice(0, 40))}).`)
  }
  return number
}

type TagValues = Record<string, string | number | boolean>

/** A user's key as shown in an error message. */
const quoted = (key: string): string => JSON.stringify(key.slice(0, 60))

const parseTagsObject = (tags: SendMetricInput['tags']): TagValues => {
  if (tags === undefined) {
    return {}
  }
  if (typeof tags !== 'string') {
    return tags
  }
  if (tags.trim() === '' || isUnrendered(tags)) {
    return {}
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(tags)
  } catch (error) {
    throw new UserFacingError(
      `Extra labels must be a JSON object such as {"flow": "checkout"}; the text does not parse (${(error as Error).message}).`
    )
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserFacingError('Extra labels must be a JSON object such as {"flow": "checkout"}, not a list or a single value.')
  }
  return parsed as TagValues
}

/**
 * Checks the extra labels and inserts them into `names` and `values` (the built-in labels,
 * names in order), keeping the names in order: the canonical tag order.
 */
const insertTags = (input: SendMetricInput['tags'], names: string[], values: string[]): void => {
  if (input === undefined) {
    return
  }
  const tags = parseTagsObject(input)
  const keys = Object.keys(tags)
  if (keys.length > limits.maxTags) {
    throw new UserFacingError(`Extra labels: at most ${limits.maxTags} are allowed (got ${keys.length}).`)
  }
  for (const key of keys) {
    const value = tags[key]
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new UserFacingError(`Extra label ${quoted(key)} must be a string, a number or a boolean.`)
    }
    if (key === '') {
      throw new UserFacingError('Extra labels: a label name is empty.')
    }
    const name = sanitizeName(key)
    if (name !== key && WHITESPACE.test(key)) {
      throw new UserFacingError(`Extra label ${quoted(key)}: label names must not contain whitespace.`)
    }
    if (name.startsWith('__')) {
      throw new UserFacingError(`Extra label ${quoted(key)}: names starting with __ are reserved by Prometheus.`)
    }
    if (name === RESERVED_KEY) {
      throw new UserFacingError(`Extra label ${quoted(key)}: the name time is reserved by the line protocol.`)
    }
    if ((BUILT_IN_LABELS as readonly string[]).includes(name)) {
      throw new UserFacingError(
        `Extra label ${quoted(key)} would replace the built-in label ${name}: set it in its own field or choose another name.`
      )
    }
    let at = names.length
    while (at > 0 && names[at - 1]! > name) {
      at--
    }
    // Built-in names were refused above, so an equal name is an earlier extra label's.
    if (names[at - 1] === name) {
      const other = keys.find((earlier) => sanitizeName(earlier) === name)!
      throw new UserFacingError(`Extra labels ${quoted(other)} and ${quoted(key)} both become the label ${name}: rename one.`)
    }
    if (exceedsBytes(name, limits.maxLabelNameBytes)) {
      throw new UserFacingError(`Extra label ${quoted(key)}: label names are limited to ${limits.maxLabelNameBytes} bytes.`)
    }
    // An insertion-sort step: cheaper than two splice calls for a handful of labels.
    const text = String(value)
    names.push(name)
    values.push(text)
    for (let j = names.length - 1; j > at; j--) {
      names[j] = names[j - 1]!
      values[j] = values[j - 1]!
    }
    names[at] = name
    values[at] = text
  }
}

/** Builds the line for one Send Metric call at time `timestamp` (milliseconds). */
export const buildMetricEvent = (input: SendMetricInput, context: MetricContext, timestamp: number): MetricEvent => {
  const { measurement, series } = parseName(input.name)
  const value = parseValue(input.value)
  // Names and values in two arrays: no pair allocated per label on this per-event path.
  const botId = textOf(input.botId) || context.botId
  const channel = textOf(input.channel)
  const version = textOf(input.version)
  const names: string[] = context.includeConversationAndUserIds ? [...BUILT_IN_LABELS] : [...BUILT_IN_LABELS_WITHOUT_IDS]
  const values = context.includeConversationAndUserIds
    ? [botId, channel, textOf(input.conversationId), textOf(input.userId), version]
    : [botId, channel, version]
  insertTags(input.tags, names, values)

  const labels: Record<string, string> = {}
  let key = measurement
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!
    const raw = values[i]!
    const plain = isPlainLabelValue(raw)
    const stored = plain ? raw : labelValue(raw)
    if (stored === '') {
      continue
    }
    if (exceedsBytes(stored, limits.maxValueBytes)) {
      throw new UserFacingError(
        `Label ${name} is ${utf8Bytes(stored)} bytes long: Grafana accepts label values up to ${limits.maxValueBytes} bytes.`
      )
    }
    labels[name] = stored
    key = appendTag(key, name, plain ? raw : escapeTagValue(stored))
  }

  // InfluxDB's MaxKeyLength counts the key, a 4-byte separator and the field name.
  if (exceedsBytes(key, limits.maxSeriesKeyBytes - 4 - METRIC_FIELD.length)) {
    throw new UserFacingError(
      `The name and labels together are ${utf8Bytes(key) + 4 + METRIC_FIELD.length} bytes; Grafana accepts at most ${limits.maxSeriesKeyBytes}: shorten the extra labels.`
    )
  }
  return { line: encodeLine(key, METRIC_FIELD, value, timestamp), seriesName: series, labels, timestamp }
}

/** Sends one Send Metric event and returns what a flow can use. */
export const sendMetric = async (
  config: Configuration,
  input: SendMetricInput,
  botId: string,
  options: WriteOptions = {}
): Promise<Omit<MetricEvent, 'line'>> => {
  const { line, ...event } = buildMetricEvent(
    input,
    { botId, includeConversationAndUserIds: config.includeConversationAndUserIds },
    Date.now()
  )
  await writeLines(config, line, options)
  return event
}
