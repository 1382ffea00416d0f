/**
 * Validates Send Raw Data bodies: each line through InfluxDB's grammar (grammar.ts, the parser
 * Grafana's influx endpoint uses) and our stricter rules (rules.ts), then the rules that span
 * the body. Every refusal says where and why.
 */
import { limits, utf8Bytes } from '../limits'
import { GrammarError, parsePoint, scanLine } from './grammar'
import { checkCharacters, checkPoint, type CheckedLine, type Rule, RuleViolation } from './rules'

export type { FieldType, Rule } from './rules'

export class LineProtocolError extends Error {
  override readonly name = 'LineProtocolError'
  constructor(
    readonly rule: Rule,
    readonly line: number,
    readonly column: number,
    readonly reason: string
  ) {
    super(line > 0 ? `line ${line}, column ${column}: ${reason}` : reason)
  }
}

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
    return { number, text: text.slice(0, point.fieldsEnd), measurement: point.measurement, keyEnd: point.keyEnd, ...checked }
  } catch (error) {
    if (error instanceof GrammarError || error instanceof RuleViolation) {
      const rule = error instanceof RuleViolation ? error.rule : 'syntax'
      const column = [...text.slice(0, Math.max(0, error.index))].length + indent + 1
      throw new LineProtocolError(rule, number, column, error.reason)
    }
    throw error
  }
}

const lineBreakError = (block: string, number: number, indent: number): LineProtocolError => {
  const last = number + block.split('\n').length - 1
  const comment = block[indent] === '#' ? ', and would skip them all as a comment' : ''
  return new LineProtocolError(
    'line-break',
    number,
    indent + 1,
    `Grafana reads lines ${number} to ${last} as one line, because of an open quote or a backslash before the line break${comment}: close the quote or remove the backslash.`
  )
}

/** A line's labels in one order, so that two lines with the same labels give the same text. */
const labelsKey = (tags: ParsedLine['tags']): string =>
  JSON.stringify([...tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

/**
 * Parses a Send Raw Data body. Blank lines and `#` comments are skipped; any invalid line
 * throws a {@link LineProtocolError} naming its line and column, so nothing is sent.
 */
export const parseRawData = (body: string): ParsedLine[] => {
  const bytes = utf8Bytes(body)
  if (bytes > limits.maxRawBodyBytes) {
    throw new LineProtocolError(
      'body-too-large',
      0,
      0,
      `the data is ${bytes} bytes; send at most ${limits.maxRawBodyBytes} bytes (1 MiB) per card.`
    )
  }
  const lines: ParsedLine[] = []
  const lineBySeries = new Map<string, ParsedLine>()
  for (let number = 1, start = 0; start <= body.length; number++) {
    const end = scanLine(body, start)
    const block = body.slice(start, end)
    const indent = block.length - block.replace(/^[ \t]+/u, '').length
    if (block.includes('\n')) {
      throw lineBreakError(block, number, indent)
    }
    start = end + 1
    const text = block.slice(indent).replace(/ +$/u, '')
    if (text === '' || text.startsWith('#')) {
      continue
    }
    const line = parseLine(text, number, indent)
    const labels = labelsKey(line.tags)
    for (const series of line.series) {
      const earlier = lineBySeries.get(`${series} ${labels}`)
      if (earlier !== undefined) {
        throw new LineProtocolError(
          'duplicate-series',
          number,
          indent + 1,
          `line ${earlier.number} already writes the series ${series} with the same labels; both would get the same timestamp and one would be lost.`
        )
      }
      lineBySeries.set(`${series} ${labels}`, line)
    }
    lines.push(line)
  }
  return lines
}
