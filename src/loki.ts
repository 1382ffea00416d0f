/**
 * Delivery to Grafana Cloud Logs: Loki's push API, JSON (which carries every character of a
 * line, label or metadata value exactly), with the same retries as the metrics writes.
 */
import { post, type Endpoint, type WriteOptions } from './client'
import type { LogsConfiguration } from './config'

/**
 * The `service_name` of every stream the integration writes: what Grafana's Logs Drilldown
 * lists the bots' logs under (Loki would otherwise name it `unknown_service`).
 */
export const SERVICE_NAME = 'botpress'

/** One line as Loki stores it: its stream's labels, the time, the line and its structured metadata. */
export interface LogEntry {
  readonly stream: Readonly<Record<string, string>>
  /** Nanoseconds since the Unix epoch, as text: Loki refuses a JSON number. */
  readonly timestampNs: string
  readonly line: string
  readonly metadata: Readonly<Record<string, string>>
}

/** The Loki push endpoint of a logs configuration. */
export const logsEndpoint = (logs: LogsConfiguration, apiKey: string): Endpoint => ({
  url: logs.pushUrl,
  userId: logs.userId,
  apiKey,
  name: 'Grafana Cloud Logs',
  what: 'Loki push endpoint',
  urlField: 'Logs endpoint URL',
  userIdField: 'Logs user ID',
  scope: 'logs:write',
  urlAdvice: "the URL starting with https://logs- from the stack's Loki details page"
})

/** Loki's push body: one stream per entry (Loki groups equal label sets itself). */
export const pushBody = (entries: readonly LogEntry[]): string =>
  JSON.stringify({
    streams: entries.map(({ stream, timestampNs, line, metadata }) => ({
      stream,
      values: [[timestampNs, line, metadata]]
    }))
  })

/**
 * Pushes `entries`. With none, pushes a stream without values: Loki answers 204 and stores
 * nothing, which proves the URL and the credentials.
 */
export const pushLogs = (
  logs: LogsConfiguration,
  apiKey: string,
  entries: readonly LogEntry[],
  options: WriteOptions = {}
): Promise<void> =>
  post(
    logsEndpoint(logs, apiKey),
    entries.length === 0
      ? JSON.stringify({ streams: [{ stream: { service_name: SERVICE_NAME }, values: [] }] })
      : pushBody(entries),
    { contentType: 'application/json' },
    options
  )
