/**
 * The labels a card writes: the built-in ones (channel, bot, conversation, user, version), the
 * bot builder's extra labels, and the instance. Every card labels its samples here, by the same
 * rules, so a label means the same on every series.
 */
import { UserFacingError } from './errors'
import {
  duplicateLabelRefusal,
  INSTANCE_LABEL,
  labelNameRefusal,
  labelValueRefusal,
  quoted,
  sanitizeName,
  utf8Bytes,
  type LabelRefusal
} from './label-names'
import { labelValue } from './line-protocol/encode'
import { FIELD_KEY_SEPARATOR_BYTES, MAX_SERIES_KEY_BYTES } from './line-protocol/names'
import type { SendMetricInput } from './schemas'

/** Extra labels a card may add (Mimir's default cap is 30 labels per series). */
export const MAX_EXTRA_LABELS = 20

/** The card fields that become labels (Send Metric's; other cards share them). */
export type LabelInput = Pick<SendMetricInput, 'channel' | 'botId' | 'conversationId' | 'userId' | 'version' | 'tags'>

export interface LabelContext {
  /** The bot running the card, used when the botId input is empty. */
  readonly botId: string
  readonly includeConversationAndUserIds: boolean
}

/** The labels the cards fill from their own fields. */
export const BUILT_IN_LABELS: ReadonlySet<string> = new Set(['botId', 'channel', 'conversationId', 'userId', 'version'])

// A field Studio did not render (the card was called from code, so the default stayed `{{…}}`).
const UNRENDERED_TEMPLATE = /^\{\{[^]*\}\}$/u

export const isUnrendered = (text: string): boolean => UNRENDERED_TEMPLATE.test(text.trim())

/** A card field as text: empty when missing or never rendered by Studio. */
export const textOf = (value: string | number | undefined): string => {
  if (value === undefined) {
    return ''
  }
  const text = String(value)
  return isUnrendered(text) ? '' : text
}

type NamedValues = Record<string, unknown>

/** How a card field of named values (extra labels, attributes) is named in messages and what it accepts. */
export interface NamedValuesField {
  /** Singular, as messages name one entry: "Extra label". */
  readonly title: string
  /** What an entry becomes: "label". */
  readonly becomes: string
  /** An example of the field's JSON. */
  readonly example: string
  /** The value types accepted, as a message says them: "a string, a number or a boolean". */
  readonly kinds: string
  readonly accepts: (value: unknown) => value is string | number | boolean
}

/** A field holding a JSON object, or its JSON text; empty when missing, blank or never rendered. */
const parseJsonObject = (value: NamedValues | string | undefined, field: NamedValuesField): NamedValues => {
  if (value === undefined) {
    return {}
  }
  if (typeof value !== 'string') {
    return value
  }
  if (value.trim() === '' || isUnrendered(value)) {
    return {}
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch (error) {
    throw new UserFacingError(
      `${field.title}s must be a JSON object such as ${field.example}; the text does not parse (${(error as Error).message}).`
    )
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserFacingError(
      `${field.title}s must be a JSON object such as ${field.example}, not a list or a single value.`
    )
  }
  return parsed as NamedValues
}

const refused = (field: NamedValuesField, key: string, { reason }: LabelRefusal): UserFacingError =>
  new UserFacingError(`${field.title} ${quoted(key)}: ${reason}`)

/**
 * The entries of a field of named values, checked by the label-name rules, by their cleaned
 * names; `taken` are the names the card sets itself.
 */
export const parseNamedValues = (
  value: NamedValues | string | undefined,
  field: NamedValuesField,
  taken: ReadonlySet<string>
): Record<string, string> => {
  const entries = parseJsonObject(value, field)
  const keys = Object.keys(entries)
  if (keys.length > MAX_EXTRA_LABELS) {
    throw new UserFacingError(`${field.title}s: at most ${MAX_EXTRA_LABELS} are allowed (got ${keys.length}).`)
  }
  const named: Record<string, string> = {}
  const keyOf = new Map<string, string>()
  for (const key of keys) {
    const entry = entries[key]
    if (!field.accepts(entry)) {
      throw new UserFacingError(`${field.title} ${quoted(key)} must be ${field.kinds}.`)
    }
    const name = sanitizeName(key)
    const refusal = labelNameRefusal(key, name, { refuseWhitespace: true })
    if (refusal !== undefined) {
      throw refused(field, key, refusal)
    }
    if (taken.has(name)) {
      throw new UserFacingError(
        `${field.title} ${quoted(key)} would replace the built-in ${field.becomes} ${name}: set it in its own field or choose another name.`
      )
    }
    const other = keyOf.get(name)
    if (other !== undefined) {
      throw refused(field, key, duplicateLabelRefusal(other, name))
    }
    keyOf.set(name, key)
    named[name] = String(entry)
  }
  return named
}

const EXTRA_LABELS: NamedValuesField = {
  title: 'Extra label',
  becomes: 'label',
  example: '{"flow": "checkout"}',
  kinds: 'a string, a number or a boolean',
  accepts: (value): value is string | number | boolean =>
    typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

/** The extra labels, checked, by their cleaned names; `taken` are the names the card sets itself. */
export const parseTags = (input: LabelInput['tags'], taken: ReadonlySet<string>): Record<string, string> =>
  parseNamedValues(input, EXTRA_LABELS, taken)

/**
 * Every label of a card's samples, as Grafana stores them, sorted by name: the built-in
 * labels, `own` (labels the card sets from its other fields, by clean name), the extra labels,
 * and `instance`. Empty values are left out; a value over Grafana's limit is refused.
 */
export const cardLabels = (
  input: LabelInput,
  context: LabelContext,
  instance: string,
  own: Readonly<Record<string, string>> = {}
): Record<string, string> => {
  const builtIn: Record<string, string> = {
    botId: textOf(input.botId) || context.botId,
    channel: textOf(input.channel),
    version: textOf(input.version)
  }
  if (context.includeConversationAndUserIds) {
    builtIn.conversationId = textOf(input.conversationId)
    builtIn.userId = textOf(input.userId)
  }
  const taken = new Set([...BUILT_IN_LABELS, ...Object.keys(own)])
  const given = { ...builtIn, ...own, ...parseTags(input.tags, taken) }

  const labels: Record<string, string> = {}
  for (const name of [...Object.keys(given), INSTANCE_LABEL].sort()) {
    const stored = name === INSTANCE_LABEL ? instance : labelValue(given[name]!)
    if (stored === '') {
      continue
    }
    const refusal = labelValueRefusal(stored)
    if (refusal !== undefined) {
      throw new UserFacingError(`Label ${name}: ${refusal.reason}`)
    }
    labels[name] = stored
  }
  return labels
}

/** Refuses a series key (measurement and tags) that InfluxDB's MaxKeyLength would refuse with `field`. */
export const checkSeriesKey = (key: string, field: string): void => {
  const keyBytes = utf8Bytes(key) + FIELD_KEY_SEPARATOR_BYTES + utf8Bytes(field)
  if (keyBytes > MAX_SERIES_KEY_BYTES) {
    throw new UserFacingError(
      `The name and labels together are ${keyBytes} bytes; Grafana accepts at most ${MAX_SERIES_KEY_BYTES}: shorten the extra labels.`
    )
  }
}
