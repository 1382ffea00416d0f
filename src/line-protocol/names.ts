/**
 * How Grafana turns InfluxDB names into Prometheus names (mimir `influxpush.replaceInvalidChars`):
 * every character outside [A-Za-z0-9_] becomes `_`, and a leading digit gets a `_` prefix.
 * Grafana replaces one byte per character, which mangles non-ASCII into invalid UTF-8; we
 * replace whole characters instead, so what we send is already clean and Grafana leaves it alone.
 */
const INVALID_NAME_CHARS = /[^A-Za-z0-9_]/gu

export const sanitizeName = (name: string): string => {
  const replaced = name.replace(INVALID_NAME_CHARS, '_')
  return /^[0-9]/u.test(replaced) ? `_${replaced}` : replaced
}

/** The Prometheus series Grafana stores for one numeric field of a measurement. */
export const seriesName = (measurement: string, field: string): string =>
  sanitizeName(field === 'value' ? measurement : `${measurement}_${field}`)

/** Any whitespace: ASCII, Unicode spaces, line and paragraph separators, NEL. */
export const WHITESPACE = /[\s\p{White_Space}]/u

/** InfluxDB refuses a tag or field key `time` ("invalid tag key"): it names the timestamp. */
export const RESERVED_KEY = 'time'
