/**
 * Send Raw Data: the user's own line protocol, validated whole before anything is sent, then
 * stamped with one timestamp (milliseconds).
 */
import { writeLines, type WriteOptions } from './client'
import type { Configuration } from './config'
import { UserFacingError } from './errors'
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
  const body = lines.map((line) => `${line.text} ${timestamp}`).join('\n')
  await writeLines(config, body, options)
  return {
    linesSent: lines.length,
    seriesNames: [...new Set(lines.flatMap((line) => line.series))].sort(),
    timestamp,
  }
}
