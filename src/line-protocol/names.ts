/**
 * The Prometheus series Grafana stores for a line's fields, and the size of a line's key.
 */
import { sanitizeName } from '../label-names'

/** The Prometheus series Grafana stores for one numeric field of a measurement. */
export const seriesName = (measurement: string, field: string): string =>
  sanitizeName(field === 'value' ? measurement : `${measurement}_${field}`)

/** Measurement, tags and field key of one line: InfluxDB's `MaxKeyLength`, which Grafana's parser enforces. */
export const MAX_SERIES_KEY_BYTES = 65535

/** InfluxDB's `seriesKeySize` counts a 4-byte separator between the key and a field key. */
export const FIELD_KEY_SEPARATOR_BYTES = 4
