/**
 * The trail: with logs configured and "Also log every event" on, Send Metric and Send LLM Usage
 * write their event as a log line too, with the same stamp as their samples. Both writes go out
 * at once; the card answers OK only when both are stored, and a failure says what became of
 * each: stored, not stored, or (no answer came back) maybe stored.
 */
import { DeliveryError, writeLines, type WriteOptions } from './client'
import type { Configuration } from './config'
import { mayHaveBeenStored, UserFacingError } from './errors'
import { INSTANCE_LABEL, quoted } from './label-names'
import { BUILT_IN_LABELS, type LabelContext } from './labels'
import { BUILT_IN_METADATA } from './log-entry'
import { pushLogs, type LogEntry } from './loki'
import { sampleClock, type Stamp } from './sample-clock'

/** Whether the card's events are also logged. */
const trailIsOn = (config: Configuration): boolean => config.logEveryEvent && config.logs !== undefined

/** What one call of a metrics card writes, and what it answers. */
export interface CardWrites<R> {
  /** Line protocol for the metrics endpoint. */
  readonly body: string
  /** The call's log line, built only when the trail is on. */
  readonly logEntry: () => LogEntry
  readonly result: R
}

/**
 * One call of a metrics card: builds its writes with the instance's next stamp (refusing bad
 * input before anything is sent), then writes the samples and, with the trail on, the log line.
 */
export const sendCardEvent = async <R>(
  config: Configuration,
  botId: string,
  options: WriteOptions,
  build: (context: LabelContext, stamp: Stamp) => CardWrites<R>
): Promise<R> => {
  const writes = build(
    { botId, includeConversationAndUserIds: config.includeConversationAndUserIds },
    sampleClock.next()
  )
  await writeEvent(config, writes.body, trailIsOn(config) ? writes.logEntry() : undefined, options)
  return writes.result
}

/**
 * A card's labels as log metadata: those the stream and the IDs do not carry already. `own` are
 * the card's figures, named by the card.
 */
export const trailDetails = (
  labels: Readonly<Record<string, string>>,
  own: Readonly<Record<string, string>>
): Record<string, string> => {
  const details: Record<string, string> = { ...own }
  for (const [name, value] of Object.entries(labels)) {
    if (BUILT_IN_LABELS.has(name) || name === INSTANCE_LABEL) {
      continue
    }
    if (BUILT_IN_METADATA.has(name) || name in own) {
      throw new UserFacingError(
        `Extra label ${quoted(name)} would replace the log metadata ${name} that "Also log every event" writes: rename the label.`
      )
    }
    details[name] = value
  }
  return details
}

/** What became of one of the two writes, as a failed call's message says it. */
const fate = (result: PromiseSettledResult<void>): string => {
  if (result.status === 'fulfilled') {
    return 'was stored'
  }
  const refused = result.reason instanceof DeliveryError && !mayHaveBeenStored(result.reason)
  return refused ? 'was not stored' : 'may have been stored'
}

/** Writes `body` to the metrics endpoint and, when given, `entry` to the logs endpoint, at once. */
const writeEvent = async (
  config: Configuration,
  body: string,
  entry: LogEntry | undefined,
  options: WriteOptions = {}
): Promise<void> => {
  if (entry === undefined || config.logs === undefined) {
    await writeLines(config, body, options)
    return
  }
  const [metrics, logs] = await Promise.allSettled([
    writeLines(config, body, options),
    pushLogs(config.logs, config.apiKey, [entry], options)
  ])
  const failed = metrics.status === 'rejected' ? metrics : logs.status === 'rejected' ? logs : undefined
  if (failed === undefined) {
    return
  }
  const note = `The metric sample ${fate(metrics)}; the log line ${fate(logs)}.`
  throw failed.reason instanceof DeliveryError ? failed.reason.withNote(note) : failed.reason
}
