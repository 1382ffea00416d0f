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

type TagValues = Record<string, string | number | boolean>

const parseTagsObject = (tags: LabelInput['tags']): TagValues => {
  if (tags === undefined) {
    return {}
  }
  if (typeof tags !== 'string') {
    return tags
  }
  if (tags.trim() === '' || isUnrendered(tags)) {
    return {}
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(tags)
  } catch (error) {
    throw new UserFacingError(
      `Extra labels must be a JSON object such as {"flow": "checkout"}; the text does not parse (${(error as Error).message}).`
    )
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserFacingError(
      'Extra labels must be a JSON object such as {"flow": "checkout"}, not a list or a single value.'
    )
  }
  return parsed as TagValues
}

const extraLabelRefused = (key: string, { reason }: LabelRefusal): UserFacingError =>
  new UserFacingError(`Extra label ${quoted(key)}: ${reason}`)

/** The extra labels, checked, by their cleaned names; `taken` are the names the card sets itself. */
const parseTags = (input: LabelInput['tags'], taken: ReadonlySet<string>): Record<string, string> => {
  const tags = parseTagsObject(input)
  const keys = Object.keys(tags)
  if (keys.length > MAX_EXTRA_LABELS) {
    throw new UserFacingError(`Extra labels: at most ${MAX_EXTRA_LABELS} are allowed (got ${keys.length}).`)
  }
  const labels: Record<string, string> = {}
  const keyOf = new Map<string, string>()
  for (const key of keys) {
    const value = tags[key]
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new UserFacingError(`Extra label ${quoted(key)} must be a string, a number or a boolean.`)
    }
    const name = sanitizeName(key)
    const refusal = labelNameRefusal(key, name, { refuseWhitespace: true })
    if (refusal !== undefined) {
      throw extraLabelRefused(key, refusal)
    }
    if (taken.has(name)) {
      throw new UserFacingError(
        `Extra label ${quoted(key)} would replace the built-in label ${name}: set it in its own field or choose another name.`
      )
    }
    const other = keyOf.get(name)
    if (other !== undefined) {
      throw extraLabelRefused(key, duplicateLabelRefusal(other, name))
    }
    keyOf.set(name, key)
    labels[name] = String(value)
  }
  return labels
}

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
