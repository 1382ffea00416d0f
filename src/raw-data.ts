/**
 * Send Raw Data: the user's own line protocol, validated whole before anything is sent, then
 * stamped with one timestamp (milliseconds).
 */
import { writeLines, type WriteOptions } from './client'
import type { Configuration } from './config'
import { UserFacingError } from './errors'
import { formatTimestamp } from './line-protocol/encode'
import { LineProtocolError, parseRawData } from './line-protocol/validate'

export interface RawDataResult {
  readonly linesSent: number
  readonly seriesNames: string[]
  readonly timestamp: number
}

export const sendRawData = async (
  config: Configuration,
  data: string,
  options: WriteOptions = {}
): Promise<RawDataResult> => {
  let lines
  try {
    lines = parseRawData(data)
  } catch (error) {
    if (error instanceof LineProtocolError) {
      throw new UserFacingError(`Invalid line protocol, nothing was sent: ${error.message}`)
    }
    throw error
  }
  if (lines.length === 0) {
    throw new UserFacingError('There is no data to send: every line is blank or a # comment.')
  }
  const timestamp = Date.now()
  // One timestamp for every line, formatted once.
  const stamp = ` ${formatTimestamp(timestamp)}`
  await writeLines(config, lines.map((line) => line.text + stamp).join('\n'), options)
  const seriesNames = new Set<string>()
  for (const line of lines) {
    for (const name of line.series) {
      seriesNames.add(name)
    }
  }
  return { linesSent: lines.length, seriesNames: [...seriesNames].sort(), timestamp }
}
