/**
 * Writing line protocol that Grafana's parser (InfluxDB's `models` package) and
 * VictoriaMetrics read back identically, whatever the input.
 */

// Control characters (C0, DEL, C1) could end the line or be read differently by each parser.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/gu
// Influx has no escape for a backslash: one that ends a value, or precedes `,` `=` or a space,
// escapes the separator after it, and VictoriaMetrics reads `\\` as one backslash where Influx
// keeps two. No encoding survives both parsers, so backslashes never reach the wire.
const BACKSLASHES = /\\/gu
// Anything labelValue may change: a control character, a backslash, or a UTF-16 surrogate
// (which is fine in a pair, but only isWellFormed can tell).
const NEEDS_CLEANING = /[\u0000-\u001f\u007f-\u009f\\\ud800-\udfff]/u
const TAG_SPECIALS = /[,= ]/gu
const HAS_TAG_SPECIALS = /[,= ]/u
// Neither cleaning nor escaping would change the value: the common case, one test.
const NEEDS_ANY_WORK = /[\u0000-\u001f\u007f-\u009f\\\ud800-\udfff,= ]/u

/** Whether `raw` is stored and sent as it is: the common case, decided by one test. */
export const isPlainLabelValue = (raw: string): boolean => !NEEDS_ANY_WORK.test(raw)

/**
 * The label value Grafana will store for `raw`: lone UTF-16 surrogates become U+FFFD,
 * control characters (CR, LF, tab, …) become a space and backslashes become `/`.
 */
export const labelValue = (raw: string): string => {
  if (!NEEDS_CLEANING.test(raw)) {
    return raw
  }
  const wellFormed = raw.isWellFormed() ? raw : raw.toWellFormed()
  return wellFormed.replace(CONTROL_CHARS, ' ').replace(BACKSLASHES, '/')
}

/** Escapes a value already passed through {@link labelValue} for a tag position. */
export const escapeTagValue = (value: string): string =>
  HAS_TAG_SPECIALS.test(value) ? value.replace(TAG_SPECIALS, '\\$&') : value

/** A float field value; callers guarantee it is finite. */
export const formatFloat = (value: number): string => String(value)

/** A series key (`measurement[,k=v…]`) with one more tag: a sanitised name and a value already escaped for the wire. */
export const appendTag = (key: string, name: string, wireValue: string): string => `${key},${name}=${wireValue}`

/**
 * An integer timestamp as text. A millisecond timestamp (13 digits) is no small integer, and V8
 * formats it as a double; two small-integer conversions are about twice as fast (measured).
 */
export const formatTimestamp = (timestamp: number): string => {
  if (!Number.isSafeInteger(timestamp) || timestamp < 1e6) {
    return String(timestamp)
  }
  const high = Math.floor(timestamp / 1e6)
  return `${high}${String(timestamp - high * 1e6 + 1e6).slice(1)}`
}

/** One line: the series key, one float field (a sanitised name) and the timestamp. */
export const encodeLine = (key: string, field: string, value: number, timestamp: number): string =>
  `${key} ${field}=${formatFloat(value)} ${formatTimestamp(timestamp)}`
