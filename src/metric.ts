/**
 * Send Metric: turns a card's input into one line of line protocol and the labels it stores.
 */
import { writeLines, type WriteOptions } from './client'
import type { Configuration } from './config'
import { UserFacingError } from './errors'
import { limits, utf8Bytes } from './limits'
import { encodeLine, labelValue } from './line-protocol/encode'
import { RESERVED_KEY, sanitizeName, seriesName, WHITESPACE } from './line-protocol/names'
import type { SendMetricInput } from './schemas'

/** The field every Send Metric line carries; the series is therefore `<name>_metric`. */
export const METRIC_FIELD = 'metric'

export const BUILT_IN_LABELS = ['channel', 'botId', 'conversationId', 'userId', 'version'] as const

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

const textOf = (value: string | number | boolean | undefined): string => {
  if (value === undefined) {
    return ''
  }
  const text = String(value)
  return UNRENDERED_TEMPLATE.test(text.trim()) ? '' : text
}

const parseName = (name: string): string => {
  if (name === '') {
    throw new UserFacingError('Metric name is empty: give the event a name such as flow_completed.')
  }
  const space = WHITESPACE.exec(name)
  if (space) {
    const code = space[0].codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')
    throw new UserFacingError(
      `Metric name must not contain whitespace (found U+${code} at position ${space.index + 1}): use _ instead, e.g. flow_completed.`
    )
  }
  const sanitised = sanitizeName(name)
  const series = seriesName(sanitised, METRIC_FIELD)
  if (utf8Bytes(series) > limits.maxValueBytes) {
    throw new UserFacingError(
      `Metric name is too long: Grafana accepts series names up to ${limits.maxValueBytes} bytes.`
    )
  }
  return sanitised
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

const parseTagsObject = (tags: SendMetricInput['tags']): TagValues => {
  if (tags === undefined) {
    return {}
  }
  if (typeof tags !== 'string') {
    return tags
  }
  if (tags.trim() === '' || UNRENDERED_TEMPLATE.test(tags.trim())) {
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

const parseTags = (input: SendMetricInput['tags']): Array<[string, string]> => {
  const tags = Object.entries(parseTagsObject(input))
  if (tags.length > limits.maxTags) {
    throw new UserFacingError(`Extra labels: at most ${limits.maxTags} are allowed (got ${tags.length}).`)
  }
  const seen = new Map<string, string>()
  const result: Array<[string, string]> = []
  for (const [key, value] of tags) {
    const shownKey = JSON.stringify(key.slice(0, 60))
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new UserFacingError(`Extra label ${shownKey} must be a string, a number or a boolean.`)
    }
    if (key === '') {
      throw new UserFacingError('Extra labels: a label name is empty.')
    }
    if (WHITESPACE.test(key)) {
      throw new UserFacingError(`Extra label ${shownKey}: label names must not contain whitespace.`)
    }
    const name = sanitizeName(key)
    if (name.startsWith('__')) {
      throw new UserFacingError(`Extra label ${shownKey}: names starting with __ are reserved by Prometheus.`)
    }
    if (name === RESERVED_KEY) {
      throw new UserFacingError(`Extra label ${shownKey}: the name time is reserved by the line protocol.`)
    }
    if ((BUILT_IN_LABELS as readonly string[]).includes(name)) {
      throw new UserFacingError(
        `Extra label ${shownKey} would replace the built-in label ${name}: set it in its own field or choose another name.`
      )
    }
    const clash = seen.get(name)
    if (clash !== undefined) {
      throw new UserFacingError(
        `Extra labels ${JSON.stringify(clash.slice(0, 60))} and ${shownKey} both become the label ${name}: rename one.`
      )
    }
    if (utf8Bytes(name) > limits.maxLabelNameBytes) {
      throw new UserFacingError(`Extra label ${shownKey}: label names are limited to ${limits.maxLabelNameBytes} bytes.`)
    }
    seen.set(name, key)
    result.push([name, String(value)])
  }
  return result
}

/** Builds the line for one Send Metric call at time `timestamp` (milliseconds). */
export const buildMetricEvent = (input: SendMetricInput, context: MetricContext, timestamp: number): MetricEvent => {
  const measurement = parseName(input.name)
  const value = parseValue(input.value)
  const candidates: Array<[string, string]> = [
    ['channel', textOf(input.channel)],
    ['botId', textOf(input.botId) || context.botId],
    ['version', textOf(input.version)],
    ...parseTags(input.tags),
  ]
  if (context.includeConversationAndUserIds) {
    candidates.push(['conversationId', textOf(input.conversationId)], ['userId', textOf(input.userId)])
  }

  const labels: Array<[string, string]> = []
  for (const [name, raw] of candidates) {
    const stored = labelValue(raw)
    if (stored === '') {
      continue
    }
    if (utf8Bytes(stored) > limits.maxValueBytes) {
      throw new UserFacingError(
        `Label ${name} is ${utf8Bytes(stored)} bytes long: Grafana accepts label values up to ${limits.maxValueBytes} bytes.`
      )
    }
    labels.push([name, stored])
  }
  labels.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

  const line = encodeLine(measurement, labels, METRIC_FIELD, value, timestamp)
  const keyBytes = utf8Bytes(line.slice(0, line.lastIndexOf(` ${METRIC_FIELD}=`))) + 4 + METRIC_FIELD.length
  if (keyBytes > limits.maxSeriesKeyBytes) {
    throw new UserFacingError(
      `The name and labels together are ${keyBytes} bytes; Grafana accepts at most ${limits.maxSeriesKeyBytes}: shorten the extra labels.`
    )
  }
  return {
    line,
    seriesName: seriesName(measurement, METRIC_FIELD),
    labels: Object.fromEntries(labels),
    timestamp,
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
    Date.now()
  )
  await writeLines(config, line, options)
  return event
}
