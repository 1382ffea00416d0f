/**
 * Send Metric: turns a card's input into one line of line protocol and the labels it stores.
 */
import type { WriteOptions } from './client'
import type { Configuration } from './config'
import { UserFacingError } from './errors'
import { exceedsBytes, MAX_LABEL_VALUE_BYTES, sanitizeName, WHITESPACE } from './label-names'
import { cardLabels, checkSeriesKey, type LabelContext } from './labels'
import { encodeLine, seriesKey } from './line-protocol/encode'
import { seriesName } from './line-protocol/names'
import { buildLogEntry } from './log-entry'
import type { LogEntry } from './loki'
import { numberField } from './number-field'
import type { Stamp } from './sample-clock'
import type { SendMetricInput } from './schemas'
import { SEND_METRIC_FIELD } from './series-names'
import { sendCardEvent, trailDetails } from './trail'

/** The bot running the card and the configuration's choice of labels. */
export type MetricContext = LabelContext

/** What a flow gets back from Send Metric. */
export interface MetricResult {
  readonly seriesName: string
  readonly labels: Readonly<Record<string, string>>
  readonly timestamp: number
}

export interface MetricEvent extends MetricResult {
  readonly line: string
  /** The event's name as stored (the measurement). */
  readonly event: string
  readonly value: number
}

/**
 * An event's name, held to the metric-name rules (`title` names the field in messages): the
 * measurement it becomes and the Send Metric series.
 */
export const parseEventName = (title: string, name: string): { measurement: string; series: string } => {
  if (name === '') {
    throw new UserFacingError(`${title} is empty: give the event a name such as flow_completed.`)
  }
  const measurement = sanitizeName(name)
  const space = WHITESPACE.exec(name)
  if (space) {
    const code = space[0].codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')
    throw new UserFacingError(
      `${title} must not contain whitespace (found U+${code} at position ${space.index + 1}): use _ instead, e.g. flow_completed.`
    )
  }
  const series = seriesName(measurement, SEND_METRIC_FIELD)
  if (exceedsBytes(series, MAX_LABEL_VALUE_BYTES)) {
    throw new UserFacingError(
      `${title} is too long: Grafana accepts series names up to ${MAX_LABEL_VALUE_BYTES} bytes.`
    )
  }
  return { measurement, series }
}

const parseValue = (value: SendMetricInput['value']): number => {
  const number = numberField(value)
  if (number === undefined) {
    return 1
  }
  if (!Number.isFinite(number)) {
    throw new UserFacingError(
      `Value must be a finite number such as 1 or 250.5 (got ${JSON.stringify(String(value).slice(0, 40))}).`
    )
  }
  return number
}

/** Builds the line for one Send Metric call, written as `stamp.instance` at `stamp.timestamp`. */
export const buildMetricEvent = (input: SendMetricInput, context: LabelContext, stamp: Stamp): MetricEvent => {
  const { measurement, series } = parseEventName('Metric name', input.name)
  const value = parseValue(input.value)
  const labels = cardLabels(input, context, stamp.instance)
  const key = seriesKey(measurement, labels)
  checkSeriesKey(key, SEND_METRIC_FIELD)
  return {
    line: encodeLine(key, { [SEND_METRIC_FIELD]: value }, stamp.timestamp),
    event: measurement,
    value,
    seriesName: series,
    labels,
    timestamp: stamp.timestamp
  }
}

/** The log line of a Send Metric event, for the trail. */
const trailEntry = (input: SendMetricInput, event: MetricEvent, context: LabelContext, stamp: Stamp): LogEntry =>
  buildLogEntry(
    {
      card: 'sendMetric',
      level: 'info',
      message: event.event,
      event: event.event,
      fields: input,
      details: trailDetails(event.labels, { value: String(event.value), series: event.seriesName })
    },
    context,
    stamp
  )

/** Sends one Send Metric event and returns what a flow can use. */
export const sendMetric = (
  config: Configuration,
  input: SendMetricInput,
  botId: string,
  options: WriteOptions = {}
): Promise<MetricResult> =>
  sendCardEvent(config, botId, options, (context, stamp) => {
    const event = buildMetricEvent(input, context, stamp)
    return {
      body: event.line,
      logEntry: () => trailEntry(input, event, context, stamp),
      result: { seriesName: event.seriesName, labels: event.labels, timestamp: event.timestamp }
    }
  })
