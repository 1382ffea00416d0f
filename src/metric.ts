/**
 * Send Metric: turns a card's input into one line of line protocol and the labels it stores.
 */
import { writeLines, type WriteOptions } from './client'
import type { Configuration } from './config'
import { UserFacingError } from './errors'
import { exceedsBytes, limits, utf8Bytes } from './limits'
import { encodeLine, labelValue, seriesKey } from './line-protocol/encode'
import { RESERVED_KEY, sanitizeName, WHITESPACE } from './line-protocol/names'
import { INSTANCE_LABEL, sampleClock, type Stamp } from './sample-clock'
import type { SendMetricInput } from './schemas'

/** The field every Send Metric line carries; the series is therefore `<name>_metric`. */
const METRIC_FIELD = 'metric'

/** The labels the card fills from its own fields. */
const BUILT_IN_LABELS: ReadonlySet<string> = new Set(['botId', 'channel', 'conversationId', 'userId', 'version'])

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

/** The extra labels, checked, by their cleaned names. */
const parseTags = (input: SendMetricInput['tags']): Record<string, string> => {
  const tags = parseTagsObject(input)
  const keys = Object.keys(tags)
  if (keys.length > limits.maxTags) {
    throw new UserFacingError(`Extra labels: at most ${limits.maxTags} are allowed (got ${keys.length}).`)
  }
  const labels: Record<string, string> = {}
  const keyOf = new Map<string, string>()
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
    if (name === INSTANCE_LABEL) {
      throw new UserFacingError(
        `Extra label ${quoted(key)}: the name instance is reserved for the integration instance that wrote the sample; choose another name.`
      )
    }
    if (BUILT_IN_LABELS.has(name)) {
      throw new UserFacingError(
        `Extra label ${quoted(key)} would replace the built-in label ${name}: set it in its own field or choose another name.`
      )
    }
    const other = keyOf.get(name)
    if (other !== undefined) {
      throw new UserFacingError(`Extra labels ${quoted(other)} and ${quoted(key)} both become the label ${name}: rename one.`)
    }
    if (exceedsBytes(name, limits.maxLabelNameBytes)) {
      throw new UserFacingError(`Extra label ${quoted(key)}: label names are limited to ${limits.maxLabelNameBytes} bytes.`)
    }
    keyOf.set(name, key)
    labels[name] = String(value)
  }
  return labels
}

/** The card's own labels, before cleaning: empty ones are left out later. */
const builtInLabels = (input: SendMetricInput, context: MetricContext): Record<string, string> => {
  const labels: Record<string, string> = {
    botId: textOf(input.botId) || context.botId,
    channel: textOf(input.channel),
    version: textOf(input.version),
  }
  if (context.includeConversationAndUserIds) {
    labels.conversationId = textOf(input.conversationId)
    labels.userId = textOf(input.userId)
  }
  return labels
}

/** Builds the line for one Send Metric call, written as `stamp.instance` at `stamp.timestamp`. */
export const buildMetricEvent = (input: SendMetricInput, context: MetricContext, stamp: Stamp): MetricEvent => {
  const { measurement, series } = parseName(input.name)
  const value = parseValue(input.value)
  const given = { ...builtInLabels(input, context), ...parseTags(input.tags) }

  const labels: Record<string, string> = {}
  for (const name of Object.keys(given).sort()) {
    const stored = labelValue(given[name]!)
    if (stored === '') {
      continue
    }
    if (exceedsBytes(stored, limits.maxValueBytes)) {
      throw new UserFacingError(
        `Label ${name} is ${utf8Bytes(stored)} bytes long: Grafana accepts label values up to ${limits.maxValueBytes} bytes.`
      )
    }
    labels[name] = stored
  }
  labels[INSTANCE_LABEL] = stamp.instance

  const key = seriesKey(measurement, labels)
  // InfluxDB's MaxKeyLength counts the key, a 4-byte separator and the field name.
  const keyBytes = utf8Bytes(key) + 4 + METRIC_FIELD.length
  if (keyBytes > limits.maxSeriesKeyBytes) {
    throw new UserFacingError(
      `The name and labels together are ${keyBytes} bytes; Grafana accepts at most ${limits.maxSeriesKeyBytes}: shorten the extra labels.`
    )
  }
  return {
    line: encodeLine(key, { [METRIC_FIELD]: value }, stamp.timestamp),
    seriesName: series,
    labels,
    timestamp: stamp.timestamp,
  }
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
    sampleClock.next()
  )
  await writeLines(config, line, options)
  return event
}
