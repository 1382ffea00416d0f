/**
 * The labels a card writes: the built-in ones (channel, bot, conversation, user, version), the
 * bot builder's extra labels, and the instance. Every card labels its samples here, by the same
 * rules, so a label means the same on every series.
 */
import { UserFacingError } from './errors'
import { exceedsBytes, limits, utf8Bytes } from './limits'
import { labelValue } from './line-protocol/encode'
import { RESERVED_KEY, sanitizeName, WHITESPACE } from './line-protocol/names'
import { INSTANCE_LABEL } from './sample-clock'
import type { SendMetricInput } from './schemas'

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

/** A user's key as shown in an error message. */
const quoted = (key: string): string => JSON.stringify(key.slice(0, 60))

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

/** The extra labels, checked, by their cleaned names; `taken` are the names the card sets itself. */
const parseTags = (input: LabelInput['tags'], taken: ReadonlySet<string>): Record<string, string> => {
  const tags = parseTagsObject(input)
  const keys = Object.keys(tags)
  if (keys.length > limits.maxTags) {
    throw new UserFacingError(`Extra labels: at most ${limits.maxTags} are allowed (got ${keys.length}).`)
  }
  const labels: Record<string, string> = {}
  const keyOf = new Map<string, string>()
  for (const key of keys) {
    const value = tags[key]
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new UserFacingError(`Extra label ${quoted(key)} must be a string, a number or a boolean.`)
    }
    if (key === '') {
      throw new UserFacingError('Extra labels: a label name is empty.')
    }
    const name = sanitizeName(key)
    if (WHITESPACE.test(key)) {
      throw new UserFacingError(`Extra label ${quoted(key)}: label names must not contain whitespace.`)
    }
    if (name.startsWith('__')) {
      throw new UserFacingError(`Extra label ${quoted(key)}: names starting with __ are reserved by Prometheus.`)
    }
    if (name === RESERVED_KEY) {
      throw new UserFacingError(`Extra label ${quoted(key)}: the name time is reserved by the line protocol.`)
    }
    if (name === INSTANCE_LABEL) {
      throw new UserFacingError(
        `Extra label ${quoted(key)}: the name instance is reserved for the integration instance that wrote the sample; choose another name.`
      )
    }
    if (taken.has(name)) {
      throw new UserFacingError(
        `Extra label ${quoted(key)} would replace the built-in label ${name}: set it in its own field or choose another name.`
      )
    }
    const other = keyOf.get(name)
    if (other !== undefined) {
      throw new UserFacingError(
        `Extra labels ${quoted(other)} and ${quoted(key)} both become the label ${name}: rename one.`
      )
    }
    if (exceedsBytes(name, limits.maxLabelNameBytes)) {
      throw new UserFacingError(
        `Extra label ${quoted(key)}: label names are limited to ${limits.maxLabelNameBytes} bytes.`
      )
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
    if (exceedsBytes(stored, limits.maxValueBytes)) {
      throw new UserFacingError(
        `Label ${name} is ${utf8Bytes(stored)} bytes long: Grafana accepts label values up to ${limits.maxValueBytes} bytes.`
      )
    }
    labels[name] = stored
  }
  return labels
}

/** Refuses a series key (measurement and tags) that InfluxDB's MaxKeyLength would refuse with `field`. */
export const checkSeriesKey = (key: string, field: string): void => {
  // MaxKeyLength counts the key, a 4-byte separator and the field name.
  const keyBytes = utf8Bytes(key) + 4 + utf8Bytes(field)
  if (keyBytes > limits.maxSeriesKeyBytes) {
    throw new UserFacingError(
      `The name and labels together are ${keyBytes} bytes; Grafana accepts at most ${limits.maxSeriesKeyBytes}: shorten the extra labels.`
    )
  }
}
