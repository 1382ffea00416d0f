/**
 * Installing the integration: proves each configured endpoint with a write that stores nothing,
 * so a wrong URL, user ID or key fails the install instead of the first card.
 */
import { writeLines } from './client'
import type { Configuration } from './config'
import { pushLogs } from './loki'

/** Proves the endpoints in turn; returns what the bot owner is told, one line per endpoint. */
export const proveEndpoints = async (config: Configuration): Promise<string[]> => {
  await writeLines(config, '')
  const proven = [`Grafana Cloud accepted the credentials for user ${config.userId} at ${config.writeUrl}.`]
  if (config.logs !== undefined) {
    await pushLogs(config.logs, config.apiKey, [])
    proven.push(`Grafana Cloud Logs accepted the credentials for user ${config.logs.userId} at ${config.logs.pushUrl}.`)
  }
  return proven
}
