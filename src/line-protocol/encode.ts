/**
 * Writing line protocol that Grafana's parser (InfluxDB's `models` package) and
 * VictoriaMetrics read back identically, whatever the input. Modelled on influxdb-client-js
 * (`escape.ts`, `Point.ts`): one escaper per position, tags sorted by key.
 */
import { CONTROL_CHARACTER } from '../label-names'

const CONTROL_CHARS = new RegExp(CONTROL_CHARACTER.source, 'gu')
// Influx has no escape for a backslash: one that ends a value, or precedes `,` `=` or a space,
// escapes the separator after it, and VictoriaMetrics reads `\\` as one backslash where Influx
// keeps two. No encoding survives both parsers, so backslashes never reach the wire.
const BACKSLASHES = /\\/gu

const escapeChars =
  (chars: RegExp) =>
  (text: string): string =>
    text.replace(chars, '\\$&')

/** How a text is escaped in each position of a line. */
export const escape = {
  measurement: escapeChars(/[, ]/gu),
  /** Tag keys, tag values and field keys. */
  tag: escapeChars(/[,= ]/gu)
} as const

/**
 * The label value Grafana will store for `raw`: lone UTF-16 surrogates become U+FFFD,
 * control characters (CR, LF, tab, …) become a space and backslashes become `/`.
 */
export const labelValue = (raw: string): string =>
  raw.toWellFormed().replace(CONTROL_CHARS, ' ').replace(BACKSLASHES, '/')

/**
 * `measurement[,key=value…]`: the part of a line that names its series. Tag values must have
 * passed through {@link labelValue}; empty ones are the caller's to leave out.
 */
export const seriesKey = (measurement: string, tags: Readonly<Record<string, string>>): string => {
  let key = escape.measurement(measurement)
  for (const name of Object.keys(tags).sort()) {
    key += `,${escape.tag(name)}=${escape.tag(tags[name]!)}`
  }
  return key
}

/** A whole line: the series key, float fields (finite numbers) and the timestamp in milliseconds. */
export const encodeLine = (key: string, fields: Readonly<Record<string, number>>, timestamp: number): string => {
  const fieldSet = Object.keys(fields)
    .map((name) => `${escape.tag(name)}=${String(fields[name])}`)
    .join(',')
  return `${key} ${fieldSet} ${timestamp}`
}
