/**
 * The log line a card writes to Grafana Cloud Logs, and where each value goes.
 *
 * - Stream labels (indexed; each new combination is a new stream, and Grafana Cloud caps a
 *   stack at 5,000 active streams): only values with few possibilities, `service_name`,
 *   `botId`, `channel` and `version`. Streams = bots × channels × versions.
 * - Structured metadata (stored with the line, filterable, not indexed, no new stream): the
 *   card, the event, the conversation and user IDs, and the card's details.
 * - The line: JSON (`| json` parses it) with the level, where Loki finds it for
 *   `detected_level`, the message, and the instance that wrote it.
 *
 * Every call answered OK is one stored line. Loki keeps one entry per stream, nanosecond and
 * line, whatever the metadata: an entry takes its instance's next millisecond
 * (src/sample-clock.ts) as its nanosecond, so one instance never stamps two entries alike, and
 * the line names the instance, so two instances never write the same line. A retry resends the
 * same bytes and lands on its first attempt's entry.
 */
import { UserFacingError } from './errors'
import { utf8Bytes, labelValueRefusal } from './label-names'
import { textOf, type LabelContext, type LabelInput } from './labels'
import { SERVICE_NAME, type LogEntry } from './loki'
import type { Stamp } from './sample-clock'
import type { LOG_LEVELS } from './schemas'

export type LogLevel = (typeof LOG_LEVELS)[number]

export type Card = 'sendLog' | 'sendMetric' | 'sendLlmUsage'

/** Loki's largest line, in bytes (Grafana Cloud: 256 KB). */
export const MAX_LINE_BYTES = 262_144

/** Structured metadata of one entry, names and values, in bytes (Loki's `max_structured_metadata_size`). */
export const MAX_METADATA_BYTES = 65_536

/**
 * Names a card's details cannot take: the metadata every entry may carry, the fields of the line
 * (`| json` would show a detail of the same name in their place), the stream labels,
 * `detected_level`, which Loki derives, and the fields Loki derives it from: it reads a
 * `severity` or `Level` metadata field (its `log_level_fields`) before the line's level, so such
 * a detail would change the level Grafana shows the line at.
 */
export const BUILT_IN_METADATA: ReadonlySet<string> = new Set([
  'card',
  'event',
  'conversationId',
  'userId',
  'level',
  'message',
  'instance',
  'detected_level',
  'LEVEL',
  'Level',
  'severity',
  'Severity',
  'SEVERITY',
  'lvl',
  'LVL',
  'Lvl',
  'service_name',
  'botId',
  'channel',
  'version'
])

/**
 * A detail's name as Loki stores it. Loki renames a metadata name that starts with a single `_`
 * (as a cleaned name that began with a digit does) to `key_…`; the entry carries that name
 * already, so the card reports the name queries find. Names reach here cleaned to [A-Za-z0-9_].
 */
export const storedMetadataName = (name: string): string => (/^_(?!_)/u.test(name) ? `key${name}` : name)

export interface EntryParts {
  readonly card: Card
  readonly level: LogLevel
  readonly message: string
  /** The event's cleaned name; empty for none. */
  readonly event: string
  /** The card's built-in fields: the stream labels and the IDs. */
  readonly fields: Omit<LabelInput, 'tags'>
  /** The card's details, by names already checked against {@link BUILT_IN_METADATA}. */
  readonly details: Readonly<Record<string, string>>
}

/** Text as Loki's JSON decoder accepts it: a lone UTF-16 surrogate (a broken emoji) becomes U+FFFD. */
const wellFormed = (text: string): string => text.toWellFormed()

/** Only the entries with a value: Loki drops an empty label, and an empty detail says nothing. */
const present = (values: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(values).filter(([, value]) => value !== ''))

const streamLabels = (fields: EntryParts['fields'], context: Pick<LabelContext, 'botId'>): Record<string, string> => {
  const labels = present({
    service_name: SERVICE_NAME,
    botId: wellFormed(textOf(fields.botId) || context.botId),
    channel: wellFormed(textOf(fields.channel)),
    version: wellFormed(textOf(fields.version))
  })
  for (const [name, value] of Object.entries(labels)) {
    const refusal = labelValueRefusal(value)
    if (refusal !== undefined) {
      throw new UserFacingError(`Log stream label ${name}: ${refusal.reason}`)
    }
  }
  return labels
}

/** The log entry of one card call, written as `stamp.instance` at `stamp.timestamp`. */
export const buildLogEntry = (parts: EntryParts, context: Pick<LabelContext, 'botId'>, stamp: Stamp): LogEntry => {
  const line = JSON.stringify({ level: parts.level, message: wellFormed(parts.message), instance: stamp.instance })
  const bytes = utf8Bytes(line)
  if (bytes > MAX_LINE_BYTES) {
    throw new UserFacingError(
      `The log line is ${bytes} bytes long; Grafana Cloud Logs accepts lines up to ${MAX_LINE_BYTES} bytes (256 KB): shorten the message.`
    )
  }
  const details: Record<string, string> = {}
  for (const [name, value] of Object.entries(parts.details)) {
    const stored = storedMetadataName(name)
    if (Object.hasOwn(details, stored)) {
      throw new UserFacingError(
        `Two names would be stored as the log metadata ${stored} (Loki renames a name that starts with one _ to key_…): rename one.`
      )
    }
    details[stored] = wellFormed(value)
  }
  const metadata = present({
    card: parts.card,
    event: parts.event,
    conversationId: wellFormed(textOf(parts.fields.conversationId)),
    userId: wellFormed(textOf(parts.fields.userId)),
    ...details
  })
  const metadataBytes = Object.entries(metadata).reduce(
    (total, [name, value]) => total + utf8Bytes(name) + utf8Bytes(value),
    0
  )
  if (metadataBytes > MAX_METADATA_BYTES) {
    throw new UserFacingError(
      `The IDs, event and attributes together are ${metadataBytes} bytes; Grafana Cloud Logs accepts up to ${MAX_METADATA_BYTES} bytes of metadata per line: shorten the attributes.`
    )
  }
  return {
    stream: streamLabels(parts.fields, context),
    timestampNs: `${stamp.timestamp}000000`,
    line,
    metadata
  }
}
