/**
 * Send Metric: turns a card's input into one line of line protocol and the labels it stores.
 */
import { writeLines, type WriteOptions } from './client'
import type { Configuration } from './config'
import { UserFacingError } from './errors'
import { exceedsBytes, MAX_LABEL_VALUE_BYTES, sanitizeName, WHITESPACE } from './label-names'
import { cardLabels, checkSeriesKey, type LabelContext } from './labels'
import { encodeLine, seriesKey } from './line-protocol/encode'
import { seriesName } from './line-protocol/names'
import { numberField } from './number-field'
import { sampleClock, type Stamp } from './sample-clock'
import type { SendMetricInput } from './schemas'
import { SEND_METRIC_FIELD } from './series-names'

/** The bot running the card and the configuration's choice of labels. */
export type MetricContext = LabelContext

export interface MetricEvent {
  readonly line: string
  readonly seriesName: string
  readonly labels: Readonly<Record<string, string>>
  readonly timestamp: number
}

const parseName = (name: string): { measurement: string; series: string } => {
  if (name === '') {
    throw new UserFacingError('Metric name is empty: give the event a name such as flow_completed.')
  }
  const measurement = sanitizeName(name)
  const space = WHITESPACE.exec(name)
  if (space) {
    const code = space[0].codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')
    throw new UserFacingError(
      `Metric name must not contain whitespace (found U+${code} at position ${space.index + 1}): use _ instead, e.g. flow_completed.`
    )
  }
  const series = seriesName(measurement, SEND_METRIC_FIELD)
  if (exceedsBytes(series, MAX_LABEL_VALUE_BYTES)) {
    throw new UserFacingError(
      `Metric name is too long: Grafana accepts series names up to ${MAX_LABEL_VALUE_BYTES} bytes.`
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
  const { measurement, series } = parseName(input.name)
  const value = parseValue(input.value)
  const labels = cardLabels(input, context, stamp.instance)
  const key = seriesKey(measurement, labels)
  checkSeriesKey(key, SEND_METRIC_FIELD)
  return {
    line: encodeLine(key, { [SEND_METRIC_FIELD]: value }, stamp.timestamp),
    seriesName: series,
    labels,
    timestamp: stamp.timestamp
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
