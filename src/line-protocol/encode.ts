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
const NEEDS_CLEANING = /[\u0000-\u001f\u007f-\u009f\\]/u
const TAG_SPECIALS = /[,= ]/gu
const HAS_TAG_SPECIALS = /[,= ]/u

/**
 * The label value Grafana will store for `raw`: lone UTF-16 surrogates become U+FFFD,
 * control characters (CR, LF, tab, …) become a space and backslashes become `/`.
 */
export const labelValue = (raw: string): string => {
  const wellFormed = raw.isWellFormed() ? raw : raw.toWellFormed()
  if (!NEEDS_CLEANING.test(wellFormed)) {
    return wellFormed
  }
  return wellFormed.replace(CONTROL_CHARS, ' ').replace(BACKSLASHES, '/')
}

/** Escapes a value already passed through {@link labelValue} for a tag position. */
export const escapeTagValue = (value: string): string =>
  HAS_TAG_SPECIALS.test(value) ? value.replace(TAG_SPECIALS, '\\$&') : value

/** A float field value; callers guarantee it is finite. */
export const formatFloat = (value: number): string => String(value)

/**
 * One line: `measurement[,k=v…] field=value timestamp`. The measurement, tag keys and field key
 * must already be sanitised names (no escaping needed); tag values are escaped here.
 */
export const encodeLine = (
  measurement: string,
  tags: ReadonlyArray<readonly [string, string]>,
  field: string,
  value: number,
  timestamp: number
): string => {
  let line = measurement
  for (const [key, value] of tags) {
    line += `,${key}=${escapeTagValue(value)}`
  }
  return `${line} ${field}=${formatFloat(value)} ${timestamp}`
}
