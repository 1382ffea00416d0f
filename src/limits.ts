/**
 * Grafana Cloud's limits that our inputs can reach. Checking them here turns what would be a
 * 400 for the whole request (or a silently dropped series) into an error that names the field.
 * Sources: Grafana Cloud "label handling and limits" docs, Mimir's distributor defaults.
 */
export const limits = {
  /** Metric names and label values, in UTF-8 bytes. */
  maxValueBytes: 2048,
  /** Label names, in UTF-8 bytes. */
  maxLabelNameBytes: 1024,
  /** Extra labels a Send Metric card may add (Mimir's default cap is 30 labels per series). */
  maxTags: 20,
  /** Measurement, tags and field key of one line: InfluxDB's `MaxKeyLength`, which Grafana's parser enforces. */
  maxSeriesKeyBytes: 65535,
  /** A Send Raw Data body, in UTF-8 bytes. Grafana accepts far more; a bot action should not. */
  maxRawBodyBytes: 1024 * 1024
} as const

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8')

/** Whether `s` is longer than `limit` UTF-8 bytes. */
export const exceedsBytes = (s: string, limit: number): boolean => utf8Bytes(s) > limit
