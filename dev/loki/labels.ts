/**
 * Label sets as Loki keeps them: sorted by name, written the Prometheus way
 * (`{app="x", service_name="x"}`, values quoted by Go's strconv.Quote) in error messages, as the
 * identity of a stream and as the sort key of query results.
 *
 * A pushed label set is first written that way (Loki's `LabelSet.String`) and read back by
 * Prometheus' metric parser (`syntax.ParseLabels`), so a name outside `[a-zA-Z_][a-zA-Z0-9_]*`
 * fails with the lexer's error; an empty value drops its label.
 */
import { goQuote, goQuoteRune } from './go'

/** Name/value pairs sorted by name, names unique. */
export type Labels = ReadonlyArray<readonly [string, string]>

export const labelsString = (labels: Labels): string =>
  `{${labels.map(([name, value]) => `${name}=${goQuote(value)}`).join(', ')}}`

export const sortLabels = (pairs: Iterable<readonly [string, string]>): Labels =>
  [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

export const labelValue = (labels: Labels, name: string): string => labels.find(([n]) => n === name)?.[1] ?? ''

export const hasLabel = (labels: Labels, name: string): boolean => labels.some(([n]) => n === name)

export class LabelParseError extends Error {}

const NAME_START = /[a-zA-Z_]/u
const NAME_REST = /[a-zA-Z0-9_]/u

/**
 * `syntax.ParseLabels(LabelSet.String())` on the labels of one pushed stream: the sorted labels
 * without those whose value is empty, or a LabelParseError with the parser's message.
 */
export const parsePushedLabels = (pairs: ReadonlyMap<string, string>): Labels => {
  const sorted = sortLabels(pairs)
  let offset = 1
  for (const [name, value] of sorted) {
    const chars = [...name]
    const bad = chars.findIndex((char, i) => !(i === 0 ? NAME_START : NAME_REST).test(char))
    if (name === '') {
      throw new LabelParseError(`1:${offset + 1}: parse error: unexpected "=" in label set, expected identifier or "}"`)
    }
    if (bad !== -1) {
      const column = offset + Buffer.byteLength(chars.slice(0, bad).join('')) + 1
      throw new LabelParseError(
        `1:${column}: parse error: unexpected character inside braces: ${goQuoteRune(chars[bad] as string)}`
      )
    }
    offset += Buffer.byteLength(`${name}=${goQuote(value)}, `)
  }
  return sorted.filter(([, value]) => value !== '')
}
