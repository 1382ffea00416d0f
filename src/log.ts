/**
 * Send Log: one line in Grafana Cloud Logs, with the conversation's IDs, the event and the
 * attributes as structured metadata (src/log-entry.ts says where each value goes and why).
 */
import type { WriteOptions } from './client'
import type { Configuration, LogsConfiguration } from './config'
import { UserFacingError } from './errors'
import { parseNamedValues, textOf, type LabelContext, type NamedValuesField } from './labels'
import { BUILT_IN_METADATA, buildLogEntry } from './log-entry'
import { pushLogs, type LogEntry } from './loki'
import { parseEventName } from './metric'
import { sampleClock, type Stamp } from './sample-clock'
import type { SendLogInput } from './schemas'

export interface LogResult {
  readonly streamLabels: Readonly<Record<string, string>>
  readonly metadataKeys: string[]
  /** Nanoseconds since the Unix epoch. */
  readonly timestamp: string
}

const ATTRIBUTES: NamedValuesField = {
  title: 'Attribute',
  becomes: 'metadata',
  example: '{"orderId": "A-1042"}',
  kinds: 'text or a number',
  accepts: (value): value is string | number =>
    typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
}

/** The logs configuration, or a message saying how to turn logs on. */
export const logsOf = (config: Configuration): LogsConfiguration => {
  if (config.logs === undefined) {
    throw new UserFacingError(
      "Logs are off: fill in Logs endpoint URL and Logs user ID in the integration's configuration (the stack's Loki details page), with an API key that has logs:write."
    )
  }
  return config.logs
}

/** Builds the entry of one Send Log call. */
export const buildSendLogEntry = (
  input: SendLogInput,
  context: Pick<LabelContext, 'botId'>,
  stamp: Stamp
): LogEntry => {
  if (textOf(input.message) === '') {
    throw new UserFacingError(
      'Message is empty: Grafana Cloud Logs would answer OK and store nothing. Give the line some text.'
    )
  }
  const event = textOf(input.event)
  return buildLogEntry(
    {
      card: 'sendLog',
      level: input.level,
      message: input.message,
      event: event === '' ? '' : parseEventName('Event', event).measurement,
      fields: input,
      details: parseNamedValues(input.attributes, ATTRIBUTES, BUILT_IN_METADATA)
    },
    context,
    stamp
  )
}

/** Sends one Send Log line and returns what was written. */
export const sendLog = async (
  config: Configuration,
  input: SendLogInput,
  botId: string,
  options: WriteOptions = {}
): Promise<LogResult> => {
  const logs = logsOf(config)
  const entry = buildSendLogEntry(input, { botId }, sampleClock.next())
  await pushLogs(logs, config.apiKey, [entry], options)
  return {
    streamLabels: entry.stream,
    metadataKeys: Object.keys(entry.metadata).sort(),
    timestamp: entry.timestampNs
  }
}
