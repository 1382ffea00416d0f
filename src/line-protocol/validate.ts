/**
 * Validates Send Raw Data bodies: each line through InfluxDB's grammar (grammar.ts, the parser
 * Grafana's influx endpoint uses) and our stricter rules (rules.ts), then the rules that span
 * the body. Every refusal says where and why.
 */
import { utf8Bytes } from '../label-names'
import { LineProtocolError } from './error'
import { parsePoint, scanLine } from './grammar'
import { checkCharacters, checkPoint, type CheckedLine } from './rules'

export { LineProtocolError, type Rule } from './error'
export type { FieldType } from './rules'

/** A Send Raw Data body, in UTF-8 bytes. Grafana accepts far more; a bot action should not. */
export const MAX_RAW_BODY_BYTES = 1024 * 1024

export interface ParsedLine extends CheckedLine {
  /** 1-based line number in the body. */
  readonly number: number
  /** The line as it goes on the wire, without leading or trailing whitespace. */
  readonly text: string
  /** The measurement as Grafana reads it (unescaped). */
  readonly measurement: string
  /** Where in `text` the measurement and tags end: the space before the fields. */
  readonly keyEnd: number
}

const parseLine = (text: string, number: number, indent: number): ParsedLine => {
  try {
    checkCharacters(text)
    const point = parsePoint(text)
    const checked = checkPoint(text, point)
    return {
      number,
      text: text.slice(0, point.fieldsEnd),
      measurement: point.measurement,
      keyEnd: point.keyEnd,
      ...checked
    }
  } catch (error) {
    if (error instanceof LineProtocolError) {
      throw error.placed(number, [...text.slice(0, Math.max(0, error.index))].length + indent + 1)
    }
    throw error
  }
}

const lineBreakError = (block: string, number: number, indent: number): LineProtocolError => {
  const last = number + block.split('\n').length - 1
  const comment = block[indent] === '#' ? ', and would skip them all as a comment' : ''
  return new LineProtocolError(
    'line-break',
    indent,
    `Grafana reads lines ${number} to ${last} as one line, because of an open quote or a backslash before the line break${comment}: close the quote or remove the backslash.`
  ).placed(number, indent + 1)
}

/**
 * A line's labels as one text that does not depend on their order. Label names have no `=` and
 * values no control character (rules.ts), so `=` and NUL keep the pairs apart.
 */
const labelsKey = (tags: ParsedLine['tags']): string =>
  tags
    .map(([label, value]) => `${label}=${value}`)
    .sort()
    .join('\u0000')

/**
 * Parses a Send Raw Data body. Blank lines and `#` comments are skipped; any invalid line
 * throws a {@link LineProtocolError} naming its line and column, so nothing is sent.
 */
export const parseRawData = (body: string): ParsedLine[] => {
  const bytes = utf8Bytes(body)
  if (bytes > MAX_RAW_BODY_BYTES) {
    throw new LineProtocolError(
      'body-too-large',
      0,
      `the data is ${bytes} bytes; send at most ${MAX_RAW_BODY_BYTES} bytes (1 MiB) per card.`
    )
  }
  const lines: ParsedLine[] = []
  const lineBySeries = new Map<string, ParsedLine>()
  for (let number = 1, start = 0; start <= body.length; number++) {
    const end = scanLine(body, start)
    let first = start
    while (body[first] === ' ' || body[first] === '\t') {
      first++
    }
    const indent = first - start
    const lineFeed = body.indexOf('\n', start)
    if (lineFeed !== -1 && lineFeed < end) {
      throw lineBreakError(body.slice(start, end), number, indent)
    }
    let last = end
    while (last > first && body[last - 1] === ' ') {
      last--
    }
    start = end + 1
    if (first === last || body[first] === '#') {
      continue
    }
    const text = body.slice(first, last)
    const line = parseLine(text, number, indent)
    const labels = labelsKey(line.tags)
    for (const series of line.series) {
      const key = `${series} ${labels}`
      const earlier = lineBySeries.get(key)
      if (earlier !== undefined) {
        throw new LineProtocolError(
          'duplicate-series',
          indent,
          `line ${earlier.number} already writes the series ${series} with the same labels; both would get the same timestamp and one would be lost.`
        ).placed(number, indent + 1)
      }
      lineBySeries.set(key, line)
    }
    lines.push(line)
  }
  return lines
}
