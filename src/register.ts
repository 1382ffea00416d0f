/**
 * Installing the integration: proves each configured endpoint with a write that stores nothing,
 * so a wrong URL, user ID or key fails the install instead of the first card, and tells the bot
 * owner what the cards will write. The label switch is said out loud because an install saved
 * before its default changed keeps the old meaning (src/config.ts): the log shows which holds.
 */
import { writeLines } from './client'
import type { Configuration } from './config'
import { pushLogs } from './loki'

const onOff = (on: boolean): string => (on ? 'on' : 'off')

/** Proves the endpoints in turn; returns what the bot owner is told, one line each. */
export const install = async (config: Configuration): Promise<string[]> => {
  await writeLines(config, '')
  const told = [`Grafana Cloud accepted the credentials for user ${config.userId} at ${config.writeUrl}.`]
  if (config.logs !== undefined) {
    await pushLogs(config.logs, config.apiKey, [])
    told.push(`Grafana Cloud Logs accepted the credentials for user ${config.logs.userId} at ${config.logs.pushUrl}.`)
  }
  told.push(
    `Conversation and user ID labels: ${onOff(config.includeConversationAndUserIds)}. ` +
      `Logs: ${config.logs === undefined ? 'off' : `on, every event logged: ${onOff(config.logEveryEvent)}`}.`
  )
  return told
}
