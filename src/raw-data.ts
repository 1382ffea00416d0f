/**
 * Send Raw Data: the user's own line protocol, validated whole before anything is sent, then
 * labelled with the instance and stamped with one millisecond (src/sample-clock.ts).
 */
import { writeLines, type WriteOptions } from './client'
import type { Configuration } from './config'
import { UserFacingError } from './errors'
import { INSTANCE_LABEL } from './label-names'
import { escape } from './line-protocol/encode'
import { parseRawData, type ParsedLine } from './line-protocol/validate'
import { sampleClock, type Stamp } from './sample-clock'

export interface RawDataResult {
  readonly linesSent: number
  readonly seriesNames: string[]
  readonly timestamp: number
}

/** A validated line as it goes on the wire. The body's lines write distinct series, so they share the stamp. */
const stampLine = (line: ParsedLine, stamp: Stamp): string =>
  `${line.text.slice(0, line.keyEnd)},${INSTANCE_LABEL}=${escape.tag(stamp.instance)}${line.text.slice(line.keyEnd)} ${stamp.timestamp}`

export const sendRawData = async (
  config: Configuration,
  data: string,
  options: WriteOptions = {}
): Promise<RawDataResult> => {
  const lines = parseRawData(data)
  if (lines.length === 0) {
    throw new UserFacingError('There is no data to send: every line is blank or a # comment.')
  }
  const stamp = sampleClock.next()
  await writeLines(config, lines.map((line) => stampLine(line, stamp)).join('\n'), options)
  const seriesNames = new Set(lines.flatMap((line) => line.series))
  return { linesSent: lines.length, seriesNames: [...seriesNames].sort(), timestamp: stamp.timestamp }
}
