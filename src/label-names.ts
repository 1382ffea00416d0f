/**
 * Label names and values: how Grafana turns a key into a label name, and the rules every label
 * the integration writes is held to, whoever supplies it (a card's extra labels, Send Raw Data's
 * tags). Each rule is written here once, with its id and its reason; the caller only chooses how
 * a refusal is reported (a card names the field, the validator the line and column).
 *
 * This module imports nothing: the line-protocol validator and the cards both stand on it.
 */

/** The label naming the integration instance that wrote a sample (src/sample-clock.ts); queries sum it away. */
export const INSTANCE_LABEL = 'instance'

/** Characters in an instance name: a 64-bit number in base 36, zero-padded. */
export const INSTANCE_NAME_LENGTH = 13

/** InfluxDB refuses a tag or field key `time` ("invalid tag key"): it names the timestamp. */
export const RESERVED_KEY = 'time'

/** Label names, in UTF-8 bytes (Grafana Cloud's limit). */
export const MAX_LABEL_NAME_BYTES = 1024

/** Label values, metric names included (`__name__` is a label), in UTF-8 bytes (Grafana Cloud's limit). */
export const MAX_LABEL_VALUE_BYTES = 2048

/** Control characters (C0, DEL, C1): they could end a line or be read differently by each parser. */
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/u

/** Any whitespace: ASCII, Unicode spaces, line and paragraph separators, NEL. */
export const WHITESPACE = /[\s\p{White_Space}]/u

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8')

/** Whether `s` is longer than `limit` UTF-8 bytes. */
export const exceedsBytes = (s: string, limit: number): boolean => utf8Bytes(s) > limit

/**
 * How Grafana turns InfluxDB names into Prometheus names (mimir `influxpush.replaceInvalidChars`):
 * every character outside [A-Za-z0-9_] becomes `_`, and a leading digit gets a `_` prefix.
 * Grafana replaces one byte per character, which mangles non-ASCII into invalid UTF-8; we
 * replace whole characters instead, so what we send is already clean and Grafana leaves it alone.
 */
export const sanitizeName = (name: string): string => {
  const replaced = name.replace(/[^A-Za-z0-9_]/gu, '_')
  return /^[0-9]/u.test(replaced) ? `_${replaced}` : replaced
}

export type LabelRule = 'empty-name' | 'whitespace' | 'reserved-name' | 'duplicate-label' | 'too-long'

/** Why a label cannot be written: the rule and a sentence that follows the caller's name for the label. */
export interface LabelRefusal {
  readonly rule: LabelRule
  readonly reason: string
}

/** The key `time`, refused as a tag key and as a field key. */
export const TIME_RESERVED: LabelRefusal = {
  rule: 'reserved-name',
  reason: 'the name time is reserved by the line protocol.'
}

/** A user's text as shown in a message: quoted, and cut short. */
export const quoted = (text: string): string => JSON.stringify(text.slice(0, 60))

/**
 * Why `key` cannot name a label, or undefined; `label` is `sanitizeName(key)`. Whitespace is a
 * rule of the cards' fields only: a Send Raw Data tag key may carry an escaped space, as
 * InfluxDB allows.
 */
export const labelNameRefusal = (
  key: string,
  label: string,
  { refuseWhitespace }: { readonly refuseWhitespace: boolean }
): LabelRefusal | undefined => {
  if (key === '') {
    return { rule: 'empty-name', reason: 'a label name is empty.' }
  }
  if (refuseWhitespace && WHITESPACE.test(key)) {
    return { rule: 'whitespace', reason: 'label names must not contain whitespace.' }
  }
  if (label.startsWith('__')) {
    return {
      rule: 'reserved-name',
      reason: `it becomes ${label}, and names starting with __ are reserved by Prometheus.`
    }
  }
  if (label === RESERVED_KEY) {
    return TIME_RESERVED
  }
  if (label === INSTANCE_LABEL) {
    return {
      rule: 'reserved-name',
      reason:
        'the name instance is reserved for the integration instance that wrote the sample (every line is labelled with it); choose another name.'
    }
  }
  if (exceedsBytes(label, MAX_LABEL_NAME_BYTES)) {
    return { rule: 'too-long', reason: `label names are limited to ${MAX_LABEL_NAME_BYTES} bytes.` }
  }
  return undefined
}

/** Why `value` cannot be a label's value, or undefined. */
export const labelValueRefusal = (value: string): LabelRefusal | undefined =>
  exceedsBytes(value, MAX_LABEL_VALUE_BYTES)
    ? {
        rule: 'too-long',
        reason: `the value is ${utf8Bytes(value)} bytes long; label values are limited to ${MAX_LABEL_VALUE_BYTES} bytes.`
      }
    : undefined

/** Two keys of one label set that Grafana would store as one label. */
export const duplicateLabelRefusal = (other: string, label: string): LabelRefusal => ({
  rule: 'duplicate-label',
  reason: `it and ${quoted(other)} both become the label ${label}: rename one.`
})
