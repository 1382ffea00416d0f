/**
 * The few Go standard-library behaviours that show through Loki's HTTP answers: how Go quotes a
 * string (`strconv.Quote`, in label sets and error messages), prints a time (`time.Time.String`,
 * RFC 3339) or a duration (`time.Duration.String`, Prometheus' `model.Duration`), and parses the
 * integers and durations of query parameters. Times are nanoseconds since the epoch, as bigint.
 */

const NS_PER_MS = 1_000_000n
const NS_PER_S = 1_000_000_000n

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u
const SHORT_ESCAPES: Record<string, string> = {
  '\u0007': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\'
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0')

/** One character as Go's `strconv.Quote` writes it inside `quote`-delimited text. */
const quoteChar = (char: string, quote: string): string => {
  if (char === quote) {
    return `\\${quote}`
  }
  const short = SHORT_ESCAPES[char]
  if (short !== undefined) {
    return short
  }
  if (PRINTABLE.test(char)) {
    return char
  }
  const code = char.codePointAt(0) ?? 0
  if (code < 0x80) {
    return `\\x${hex(code, 2)}`
  }
  return code <= 0xffff ? `\\u${hex(code, 4)}` : `\\U${hex(code, 8)}`
}

/** Go's `strconv.Quote`: printable characters as they are, the others escaped. */
export const goQuote = (text: string): string => {
  let out = '"'
  for (const char of text) {
    out += quoteChar(char, '"')
  }
  return `${out}"`
}

/** Go's `%q` of one rune, as in `unexpected character inside braces: '-'`. */
export const goQuoteRune = (char: string): string => `'${quoteChar(char, "'")}'`

/** Nanoseconds as a UTC Date (millisecond part) and the nanoseconds left over, floored. */
const split = (ns: bigint): { date: Date; subMs: bigint } => {
  let ms = ns / NS_PER_MS
  let subMs = ns % NS_PER_MS
  if (subMs < 0n) {
    ms -= 1n
    subMs += NS_PER_MS
  }
  return { date: new Date(Number(ms)), subMs }
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

const dateAndClock = (date: Date, separator: string): string =>
  `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}${separator}` +
  `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`

/** `time.Unix(0, ns).Format(time.RFC3339)` on a UTC machine: whole seconds, `Z`. */
export const rfc3339 = (ns: bigint): string => `${dateAndClock(split(ns).date, 'T')}Z`

/** `time.Unix(0, ns).String()` on a UTC machine: `2024-05-01 10:00:00.5 +0000 UTC`. */
export const goTimeString = (ns: bigint): string => {
  const { date, subMs } = split(ns)
  const fraction = (BigInt(date.getUTCMilliseconds()) * NS_PER_MS + subMs).toString().padStart(9, '0')
  const trimmed = fraction.replace(/0+$/u, '')
  return `${dateAndClock(date, ' ')}${trimmed === '' ? '' : `.${trimmed}`} +0000 UTC`
}

/** Go's `time.Duration.String()`: `721h0m0.001s`, `1.5s`, `250ms`. */
export const goDuration = (ns: bigint): string => {
  if (ns === 0n) {
    return '0s'
  }
  const sign = ns < 0n ? '-' : ''
  const abs = ns < 0n ? -ns : ns
  const fractionOf = (value: bigint, unit: bigint, digits: number): string => {
    const whole = value / unit
    const rest = (value % unit).toString().padStart(digits, '0').replace(/0+$/u, '')
    return rest === '' ? `${whole}` : `${whole}.${rest}`
  }
  if (abs < 1000n) {
    return `${sign}${abs}ns`
  }
  if (abs < NS_PER_MS) {
    return `${sign}${fractionOf(abs, 1000n, 3)}µs`
  }
  if (abs < NS_PER_S) {
    return `${sign}${fractionOf(abs, NS_PER_MS, 6)}ms`
  }
  const hours = abs / (3600n * NS_PER_S)
  const minutes = (abs / (60n * NS_PER_S)) % 60n
  const seconds = fractionOf(abs % (60n * NS_PER_S), NS_PER_S, 9)
  if (hours > 0n) {
    return `${sign}${hours}h${minutes}m${seconds}s`
  }
  return minutes > 0n ? `${sign}${minutes}m${seconds}s` : `${sign}${seconds}s`
}

const PROM_UNITS: ReadonlyArray<[string, number, boolean]> = [
  ['y', 365 * 24 * 3600 * 1000, true],
  ['w', 7 * 24 * 3600 * 1000, true],
  ['d', 24 * 3600 * 1000, false],
  ['h', 3600 * 1000, false],
  ['m', 60 * 1000, false],
  ['s', 1000, false],
  ['ms', 1, false]
]

/** Prometheus' `model.Duration.String()`: `30d1h` (years and weeks only when exact). */
export const promDuration = (ms: number): string => {
  if (ms === 0) {
    return '0s'
  }
  let rest = ms
  let out = ''
  for (const [unit, size, exactOnly] of PROM_UNITS) {
    if (exactOnly && rest % size !== 0) {
      continue
    }
    const count = Math.floor(rest / size)
    if (count > 0) {
      out += `${count}${unit}`
      rest -= count * size
    }
  }
  return out
}

const PROM_DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/u

/** Prometheus' `model.ParseDuration` in milliseconds: `1h30m`, `7d`; undefined when it refuses. */
export const parsePromDuration = (text: string): number | undefined => {
  if (text === '0') {
    return 0
  }
  const match = PROM_DURATION.exec(text)
  if (text === '' || match === null) {
    return undefined
  }
  return PROM_UNITS.reduce((sum, [, size], i) => sum + Number(match[i + 1] ?? 0) * size, 0)
}

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** `strconv.ParseInt(text, 10, 64)` (and `Atoi`): an optional sign and decimal digits, in range. */
export const goParseInt = (text: string): bigint | undefined => {
  if (!/^[+-]?\d+$/u.test(text)) {
    return undefined
  }
  const value = BigInt(text)
  return value < INT64_MIN || value > INT64_MAX ? undefined : value
}

/** The error text of a failed `strconv.ParseInt`/`Atoi`, as Loki passes it on. */
export const goParseIntError = (fn: 'ParseInt' | 'Atoi', text: string): string =>
  /^[+-]?\d+$/u.test(text)
    ? `strconv.${fn}: parsing ${goQuote(text)}: value out of range`
    : `strconv.${fn}: parsing ${goQuote(text)}: invalid syntax`

export const nsFromMs = (ms: number): bigint => BigInt(Math.trunc(ms)) * NS_PER_MS
export const NANOS_PER_SECOND = NS_PER_S
export const NANOS_PER_MS = NS_PER_MS
