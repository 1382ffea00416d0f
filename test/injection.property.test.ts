/**
 * Injection, property-based.
 *
 * fast-check generates Send Metric inputs — arbitrary Unicode and the fragments that break line
 * protocol — in every field and in `tags`. Each case goes to the BUILT bundle over HTTP exactly as
 * Botpress Cloud sends it; the integration writes through a recording proxy (this file) to a real
 * VictoriaMetrics 1.79 (Basic auth, dedup). The same wire lines then go to a real InfluxDB 1.6.
 *
 * The oracle below implements the documented transformations from their description only (it
 * imports nothing from src/): for every case it decides "refused" or the exact series name,
 * labels, value and wire prefix. Checked per case:
 *  - refused → HTTP 400 with a message, and no write at all;
 *  - accepted → HTTP 200 whose output has the oracle's series name and labels; exactly one write
 *    of exactly one line whose measurement and tags are the oracle's (escaping: `,` `=` and space
 *    take a backslash), value and the output's timestamp;
 *  - VictoriaMetrics holds exactly one sample per accepted case, in a series whose labels are
 *    exactly the oracle's (plus __name__), with the output's timestamp; and no other series;
 *  - InfluxDB accepts every wire line as exactly one point with the same tags, value and time.
 *
 * To stay fast, every case is called once, in beforeAll (8 in flight), and each check below reads
 * what those calls answered, wrote and stored; VictoriaMetrics is read once at the end.
 * Every case carries a unique label so its series is identifiable: an extra label `fzid` (most
 * cases), or — when `tags` is generated as free text — a unique x-bot-id header with an empty
 * botId input, which the botId label then takes.
 *
 * Send LLM Usage runs last, through its own recording proxy, with the same generators in its
 * provider, model, operation, stop reason and error type (as fields or in the LLM response) and
 * in its extra labels; its oracle shares the label rules above and adds the card's own labels.
 * Checked per case: the answer, the exact write body (one line for the call and one per token
 * type, nothing more), and exactly the oracle's series in VictoriaMetrics.
 *
 * Send Log runs after it, against the Loki stand-in (dev/loki.ts), with the same hostile text in
 * its message, event, IDs (conversationId, userId, channel, botId, version) and attributes
 * (names and values), and tricks aimed at the line's JSON and the push body. Its oracle reuses
 * the field, name and event rules above; values are kept exactly (lone surrogates → U+FFFD), but
 * for what Loki itself does to structured metadata (a U+FFFD in a value becomes a space).
 * Checked per case: the answer (stream labels and metadata keys); then every stored entry,
 * found by the timestamp its call reported: exactly one per accepted call, with exactly the
 * oracle's stream labels, line and metadata (plus the detected_level of the card's level), no
 * other entry, no merge, one push per accepted call and none for a refusal.
 *
 * Seed: FUZZ_SEED (default below, printed); cases: max(10000, FUZZ_RUNS), a fifth as many
 * Send LLM Usage cases and as many Send Log cases.
 *
 * Where VictoriaMetrics 1.79 differs from Grafana (measured here), the VM check models it:
 *  - values keep ~12 significant digits and magnitudes below ~1e-296 become 0: values are
 *    compared exactly on the wire and in InfluxDB, within that loss in VictoriaMetrics;
 *  - label names longer than 256 bytes are cut to 256 (Grafana accepts 1024).
 *
 * Calls use dev/botpress.ts's headersFor over a keep-alive node:http agent (the same
 * request as its triggerAction; fetch costs ~3x the time per call here).
 *
 * Rules beyond the escaping and sanitising above, in the oracle too: an empty tag key is refused, label
 * names are limited to 1024 bytes, the tag key `time` is reserved (InfluxDB refuses it), the
 * series key (measurement and tags on the wire, plus the field) is limited to 65,535 bytes
 * (InfluxDB's MaxKeyLength), numeric text is decimal notation only, and an own `__proto__` key
 * anywhere in the input is refused.
 */
import fc from 'fast-check'
import { request, Agent } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { headersFor, type IntegrationAnswer } from '../dev/botpress'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'
import { startLoki, type Loki } from '../dev/loki'
import { startProxy, type ProxiedRequest } from '../dev/proxy'
import {
  startInfluxDB,
  startVictoriaMetrics,
  type ExportedSeries,
  type RunningServer,
  type VictoriaMetrics
} from '../dev/servers'
import { instanceOf } from './helpers/instance'

const DEFAULT_SEED = 20261125
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : DEFAULT_SEED
if (!Number.isSafeInteger(SEED)) throw new Error(`FUZZ_SEED must be an integer (got ${process.env.FUZZ_SEED})`)
const RUNS = Math.max(10_000, Number(process.env.FUZZ_RUNS ?? 0) || 0)
/** Time limits grow with the number of cases. */
const SCALE = RUNS / 10_000
const CONCURRENCY = 8
const USER_ID = '5550123'
const REPORT_LIMIT = 25

// ---------------------------------------------------------------------------------------------
// The oracle: the documented transformations of Send Metric, written from the spec alone.
// ---------------------------------------------------------------------------------------------

const BUILT_IN = ['channel', 'botId', 'conversationId', 'userId', 'version']
const WHITESPACE = /[\s\p{White_Space}]/u
const MAX_VALUE_BYTES = 2048 // series names and label values (Grafana Cloud limits)
const MAX_LABEL_NAME_BYTES = 1024 // label names (Grafana Cloud limits)
const MAX_TAGS = 20
const bytes = (s: string) => Buffer.byteLength(s, 'utf8')

/** Each code point outside [A-Za-z0-9_] becomes `_`; a leading digit gets a `_` prefix. */
const oracleSanitise = (name: string): string => {
  let out = ''
  for (const ch of name) {
    out += /^[A-Za-z0-9_]$/.test(ch) ? ch : '_'
  }
  return /^[0-9]/.test(out) ? `_${out}` : out
}

/** Lone surrogates → U+FFFD; U+0000–U+001F and U+007F–U+009F → space; backslash → `/`. */
const oracleLabelValue = (raw: string): string => {
  let out = ''
  for (const ch of raw) {
    const cp = ch.codePointAt(0)!
    if (cp >= 0xd800 && cp <= 0xdfff) {
      out += '\ufffd'
    } else if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)) {
      out += ' '
    } else if (ch === '\\') {
      out += '/'
    } else {
      out += ch
    }
  }
  return out
}

/** The whole trimmed value is an unrendered Studio template `{{…}}`: counts as empty. */
const isTemplate = (text: string): boolean => {
  const t = text.trim()
  return t.length >= 4 && t.startsWith('{{') && t.endsWith('}}')
}

/** Line protocol tag value escaping: `,`, `=` and space take a backslash. */
const escapeTag = (value: string): string => value.replace(/[,= ]/g, (c) => `\\${c}`)

type Verdict =
  | { accepted: false; why: string }
  | {
      accepted: true
      series: string
      measurement: string
      labels: Record<string, string>
      value: number
      linePrefix: string
    }

interface Context {
  readonly headerBotId: string
  readonly includeIds: boolean
  /** The integration process's instance name, which labels every sample it writes. */
  readonly instance: string
}

type Refusal = Extract<Verdict, { accepted: false }>
const refuse = (why: string): Refusal => ({ accepted: false, why })
/** Names, labels and entries are never objects with a boolean `accepted`, which tells a refusal apart. */
const isRefusal = <T>(result: T | Refusal): result is Refusal =>
  typeof result === 'object' && result !== null && typeof (result as { accepted?: unknown }).accepted === 'boolean'

/** A built-in text field of a card (version may be a number): its text, empty for none or a template. */
const oracleFieldText = (input: Record<string, unknown>, field: string): string | Refusal => {
  const raw = input[field]
  if (raw === undefined) return ''
  if (field === 'version' ? typeof raw !== 'string' && typeof raw !== 'number' : typeof raw !== 'string') {
    return refuse(`${field} has the wrong type`)
  }
  const text = String(raw)
  return isTemplate(text) ? '' : text
}

/** A field of named values (extra labels, attributes): the object or its JSON text, as entries. */
const oracleNamedValues = (value: unknown, what: string): Array<[string, unknown]> | Refusal => {
  let parsed = value
  if (parsed === undefined) return []
  if (typeof parsed === 'string') {
    const t = parsed.trim()
    if (t === '' || isTemplate(t)) return []
    try {
      parsed = JSON.parse(parsed)
    } catch {
      return refuse(`${what} text is not JSON`)
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return refuse(`${what} not an object`)
  const entries = Object.entries(parsed)
  if (entries.length > MAX_TAGS) return refuse(`too many ${what}`)
  return entries
}

/**
 * The name a key of named values takes (the label-name rules), or the refusal; `taken` are the
 * names the card sets itself, `seen` the names earlier keys took.
 */
const oracleName = (key: string, taken: readonly string[], seen: Set<string>): string | Refusal => {
  // Two rules beyond the sanitising, taken from Prometheus/Grafana: a label name
  // cannot be empty, and label names are limited to 1024 bytes.
  if (key === '') return refuse('empty key')
  if (WHITESPACE.test(key)) return refuse('whitespace in key')
  const name = oracleSanitise(key)
  if (name.startsWith('__')) return refuse('reserved key')
  if (name === 'time') return refuse('reserved key time')
  if (name === 'instance') return refuse('reserved key instance')
  if (taken.includes(name)) return refuse('built-in key')
  if (seen.has(name)) return refuse('colliding keys')
  if (bytes(name) > MAX_LABEL_NAME_BYTES) return refuse('key too long')
  seen.add(name)
  return name
}

/**
 * The labels of a card's samples: the built-in ones, `own` (the card's own labels, by name,
 * whose names no extra label may take), the extra labels and the instance; or the refusal.
 */
const oracleLabels = (
  input: Record<string, unknown>,
  context: Context,
  own: ReadonlyArray<readonly [string, string]>
): Record<string, string> | Refusal => {
  const raw: Array<readonly [string, string]> = [...own]
  for (const field of BUILT_IN) {
    if (!context.includeIds && (field === 'conversationId' || field === 'userId')) continue
    const text = oracleFieldText(input, field)
    if (typeof text !== 'string') return text
    raw.push([field, field === 'botId' && text === '' ? context.headerBotId : text])
  }

  const tags = oracleNamedValues(input.tags, 'tags')
  if (isRefusal(tags)) return tags
  const taken = [...BUILT_IN, ...own.map(([name]) => name)]
  const seen = new Set<string>()
  for (const [key, tagValue] of tags) {
    if (typeof tagValue !== 'string' && typeof tagValue !== 'number' && typeof tagValue !== 'boolean') {
      return refuse('tag value type')
    }
    const label = oracleName(key, taken, seen)
    if (isRefusal(label)) return label
    raw.push([label, String(tagValue)])
  }

  const labels: Record<string, string> = {}
  for (const [label, text] of raw) {
    const stored = oracleLabelValue(text)
    if (stored === '') continue
    if (bytes(stored) > MAX_VALUE_BYTES) return refuse(`label ${label} too long`)
    labels[label] = stored
  }
  labels.instance = context.instance
  return labels
}

/** An event's name (Send Metric's name, Send Log's event) as the measurement it becomes, or the refusal. */
const oracleMeasurement = (name: string): string | Refusal => {
  if (name === '') return refuse('empty name')
  if (WHITESPACE.test(name)) return refuse('whitespace in name')
  const measurement = oracleSanitise(name)
  if (bytes(`${measurement}_metric`) > MAX_VALUE_BYTES) return refuse('series name too long')
  return measurement
}

const oracle = (input: Record<string, unknown>, context: Context): Verdict => {
  // name
  const name = input.name
  if (typeof name !== 'string') return refuse('name is not text')
  const measurement = oracleMeasurement(name)
  if (isRefusal(measurement)) return measurement
  const series = `${measurement}_metric`

  // value
  let value: number
  const v = input.value
  if (v === undefined) {
    value = 1
  } else if (typeof v === 'number') {
    if (!Number.isFinite(v)) return refuse('value not finite')
    value = v
  } else if (typeof v === 'string') {
    const t = v.trim()
    if (t !== '' && !/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(t))
      return refuse('value not decimal text')
    value = t === '' ? 1 : Number(t)
    if (!Number.isFinite(value)) return refuse('value not numeric')
  } else {
    return refuse('value is neither number nor text')
  }

  const labels = oracleLabels(input, context, [])
  if (isRefusal(labels)) return labels
  const sorted = Object.keys(labels).sort()
  const linePrefix = measurement + sorted.map((k) => `,${k}=${escapeTag(labels[k]!)}`).join('')
  if (bytes(linePrefix) + 4 + 'metric'.length > 65535) return refuse('series key too long')
  return { accepted: true, series, measurement, labels, value, linePrefix }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

const NASTY = [
  '\n',
  '\r\n',
  '\r',
  '\t',
  ',',
  '=',
  ' ',
  '"',
  '\\',
  '\\ ',
  'a\\',
  '\\,',
  '\\=',
  '=\\',
  '#',
  '{{x}}',
  '{{',
  '}}',
  '😀',
  '👩‍👩‍👧',
  'e\u0301',
  'é',
  '\u2028',
  '\u2029',
  '\u0085',
  '\u00a0',
  '\u3000',
  '\ufeff',
  '\u200b',
  '\u180e',
  '\ud800',
  '\udfff',
  '\udbff\udbff',
  '\u0000',
  '\u001f',
  '\u007f',
  '\u009f',
  '\ufffd',
  "'",
  '{',
  '}',
  '[',
  ']',
  ':',
  '.',
  '-',
  '_',
  '__',
  '0',
  '9',
  'time',
  'metric',
  'value',
  'x',
  'abc'
]
const nasty = fc.constantFrom(...NASTY)
const LONG = [
  'a'.repeat(2048),
  'a'.repeat(2049),
  'é'.repeat(1024),
  'é'.repeat(1025),
  '😀'.repeat(512),
  `${'😀'.repeat(512)}a`,
  '\ud800'.repeat(682),
  '\ud800'.repeat(683),
  '\\'.repeat(2048),
  ','.repeat(2048),
  '\n'.repeat(2048),
  ' '.repeat(3000),
  '='.repeat(5000)
]

const shortTexts = [
  { weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
  { weight: 6, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 24 }) },
  {
    weight: 10,
    arbitrary: fc.string({
      unit: fc.oneof(nasty, fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 3 })),
      maxLength: 10
    })
  },
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,20}$/) }
]
/** Short arbitrary Unicode, and the fragments that break line protocol. */
const shortText: fc.Arbitrary<string> = fc.oneof(...shortTexts)
/** The same, and sometimes very long (around and beyond the 2048-byte limits). */
const text: fc.Arbitrary<string> = fc.oneof(
  ...shortTexts,
  { weight: 1, arbitrary: fc.constantFrom(...LONG) },
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.oneof(nasty, fc.string({ unit: 'binary', maxLength: 2 })),
      minLength: 300,
      maxLength: 900
    })
  }
)
const noWhitespace = (s: string) => s !== '' && !WHITESPACE.test(s)
const nameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: shortText.filter(noWhitespace) },
  { weight: 2, arbitrary: shortText },
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9_]{1,24}$/) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'n'.repeat(2041),
      'n'.repeat(2042),
      `9${'n'.repeat(2039)}`,
      `9${'n'.repeat(2040)}`,
      '😀'.repeat(2041),
      '😀'.repeat(2042),
      `x${'\ud800'.repeat(2040)}`
    )
  }
)
const templateArb = fc.constantFrom(
  '{{event.integration}}',
  '{{event.botId}}',
  ' {{x}} ',
  '{{}}',
  '{{a}}{{b}}',
  '\n{{event.userId}}\t'
)
const labelArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: templateArb },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 8, arbitrary: text }
)
const numberArb = fc.oneof(
  fc.double(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.constantFrom(0, -0, 1e21, 5e-324, -1.7976931348623157e308)
)
const numericText = fc.oneof(
  numberArb.map(String),
  fc
    .tuple(
      fc.constantFrom(' ', '\n', '\t', '\u00a0', '\u2028', '\ufeff', '\u0085', ''),
      numberArb,
      fc.constantFrom(' ', '\r\n', '')
    )
    .map(([a, n, b]) => `${a}${n}${b}`),
  fc.constantFrom(
    '',
    '   ',
    '0x1F',
    '1_000',
    '1e400',
    '-1e400',
    'Infinity',
    '-Infinity',
    'NaN',
    '0b101',
    '0o17',
    '.5',
    '5.',
    '+3',
    '1e-400',
    '-0',
    '12abc',
    '１２',
    '1,5'
  )
)
const versionArb: fc.Arbitrary<string | number | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: numberArb },
  { weight: 1, arbitrary: fc.constantFrom('1.4.2', '2', 'v3.0.0-rc.1') },
  { weight: 4, arbitrary: text }
)
const valueArb: fc.Arbitrary<string | number | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 10, arbitrary: numberArb },
  { weight: 8, arbitrary: numericText },
  { weight: 1, arbitrary: shortText }
)
const tagKeyArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,12}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^_[A-Za-z0-9_]{0,12}$/) },
  { weight: 2, arbitrary: shortText },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'botId',
      'channel',
      'version',
      'userId',
      'conversationId',
      'bot.Id',
      'bot-Id',
      'Channel',
      '__name__',
      '__x',
      '_x',
      '__proto__',
      'constructor',
      'toString',
      'time',
      'le',
      'x-y',
      'x_y',
      'x.y',
      '9x',
      '_9x',
      '0',
      '1',
      'k'.repeat(1024),
      'k'.repeat(1025),
      'é'.repeat(600)
    )
  }
)
type TagValue = string | number | boolean | null | Record<string, unknown> | unknown[]
const tagValueArb: fc.Arbitrary<TagValue> = fc.oneof(
  { weight: 30, arbitrary: text },
  { weight: 6, arbitrary: numberArb },
  { weight: 3, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constantFrom<TagValue>(null, { a: 1 }, ['x']) }
)
const tagEntriesArb = fc.oneof(
  { weight: 19, arbitrary: fc.array(fc.tuple(tagKeyArb, tagValueArb), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.tuple(tagKeyArb, tagValueArb), { minLength: 17, maxLength: 21 }) }
)
const freeTagsText = fc.oneof(
  fc.constantFrom(
    '',
    '   ',
    '{{event.tags}}',
    '{}',
    '[]',
    'null',
    '"x"',
    '1',
    'not json',
    '{"a":{"b":1}}',
    '{"a":null}',
    '{"a":[1]}',
    '{"a":"b",}',
    '{"a":1,"a":2}',
    ' {"flow":"x"} ',
    '{"__proto__":"x"}',
    JSON.stringify(Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])))
  ),
  text,
  fc
    .array(fc.tuple(tagKeyArb, tagValueArb), { maxLength: 4 })
    .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`)
)

/** A generated case before its unique label is added. */
interface Draft {
  name: string
  channel: string | undefined
  botId: string | undefined
  conversationId: string | undefined
  userId: string | undefined
  version: string | number | undefined
  value: string | number | undefined
  tags: { kind: 'object' | 'json'; entries: Array<[string, TagValue]> } | { kind: 'free'; text: string | undefined }
  includeIds: boolean | undefined
}

const draftArb: fc.Arbitrary<Draft> = fc.record({
  name: nameArb,
  channel: labelArb,
  botId: labelArb,
  conversationId: labelArb,
  userId: labelArb,
  version: versionArb,
  value: valueArb,
  tags: fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({ kind: fc.constantFrom<'object' | 'json'>('object', 'json'), entries: tagEntriesArb })
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant<'free'>('free'), text: fc.option(freeTagsText, { nil: undefined }) })
    }
  ),
  includeIds: fc.constantFrom(true, false, undefined)
})

/** An object whose own keys are exactly `entries` (also `__proto__`), in order, last one winning. */
const objectOf = (entries: Array<[string, unknown]>): Record<string, unknown> => {
  const object: Record<string, unknown> = {}
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return object
}

interface Case {
  readonly index: number
  readonly origin: string
  readonly input: Record<string, unknown>
  readonly configuration: Record<string, unknown>
  readonly headerBotId: string
  /** The input as the integration receives it (after JSON), what the oracle judges. */
  readonly received: Record<string, unknown>
  readonly verdict: Verdict
}

/** Extra labels as a case passes them: the object itself, or its JSON text as Studio sends it. */
const tagsInput = (kind: 'object' | 'json', entries: Array<[string, unknown]>): unknown =>
  kind === 'object'
    ? objectOf(entries)
    : `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`

/** The configuration of a case: the base one, with the IDs setting when the draft sets it. */
const configurationFor = (base: Record<string, unknown>, includeIds: boolean | undefined): Record<string, unknown> =>
  includeIds === undefined ? base : { ...base, includeConversationAndUserIds: includeIds }

const EMPTY_BOT_IDS = [undefined, '', '{{event.botId}}', '  {{x}} ']

const makeCase = (
  draft: Draft,
  index: number,
  origin: string,
  baseConfiguration: Record<string, unknown>,
  instance: string
): Case => {
  const headerBotId = `fz${SEED}-${index}`
  const input: Record<string, unknown> = { name: draft.name }
  const set = (key: string, value: unknown) => {
    if (value !== undefined) input[key] = value
  }
  set('channel', draft.channel)
  set('conversationId', draft.conversationId)
  set('userId', draft.userId)
  set('version', draft.version)
  set('value', draft.value)
  if (draft.tags.kind === 'free') {
    // Free text may carry no usable label: the header's unique bot ID identifies the series.
    set('botId', EMPTY_BOT_IDS[index % EMPTY_BOT_IDS.length])
    set('tags', draft.tags.text)
  } else {
    set('botId', draft.botId)
    const entries: Array<[string, unknown]> = [...draft.tags.entries, ['fzid', `c${index}`]]
    set('tags', tagsInput(draft.tags.kind, entries))
  }
  const configuration = configurationFor(baseConfiguration, draft.includeIds)
  const received = JSON.parse(JSON.stringify(input)) as Record<string, unknown>
  const includeIds = draft.includeIds !== false
  return {
    index,
    origin,
    input,
    configuration,
    headerBotId,
    received,
    verdict: oracle(received, { headerBotId, includeIds, instance })
  }
}

/** Hand-picked cases that run first, through the same checks. */
const pinnedDrafts = (): Draft[] => {
  const base: Draft = {
    name: 'pinned',
    channel: undefined,
    botId: undefined,
    conversationId: undefined,
    userId: undefined,
    version: undefined,
    value: undefined,
    tags: { kind: 'object', entries: [] },
    includeIds: undefined
  }
  const long = (i: number) => `k${i}_`.padEnd(1000, 'k')
  return [
    { ...base, name: 'injection,a=b c=1\nx', channel: 'web,evil=1 metric=666 1\nfake metric=1' },
    { ...base, name: 'ends_in_backslash', channel: 'a\\', botId: '\\', conversationId: 'x\\ y', userId: '\\,\\=' },
    { ...base, name: 'all_controls', channel: '\r\n\t\u0000\u0085', version: '\u2028', userId: '\ud800' },
    { ...base, name: 'tag_time', tags: { kind: 'object', entries: [['time', 'x']] } },
    { ...base, name: 'tag_proto_object', tags: { kind: 'object', entries: [['__proto__', 'x']] } },
    { ...base, name: 'tag_proto_json', tags: { kind: 'json', entries: [['__proto__', 'x']] } },
    // The largest series key the documented limits allow: 5 built-in labels of 2048 bytes and
    // 19 (+ fzid) extra labels with 1000-byte names and 2048-byte values, about 70 KB.
    {
      ...base,
      name: 'n'.repeat(2041),
      channel: 'c'.repeat(2048),
      botId: 'b'.repeat(2048),
      conversationId: 'v'.repeat(2048),
      userId: 'u'.repeat(2048),
      version: 'r'.repeat(2048),
      tags: {
        kind: 'object',
        entries: Array.from({ length: 19 }, (_, i): [string, TagValue] => [long(i), 'w'.repeat(2048)])
      }
    }
  ]
}

// ---------------------------------------------------------------------------------------------
// A recording proxy in front of VictoriaMetrics: every write is kept byte for byte, then forwarded.
// ---------------------------------------------------------------------------------------------

const startRecordingProxy = async (target: string) => {
  const recorded: ProxiedRequest[] = []
  const proxy = await startProxy(target, { onRequest: (request) => recorded.push(request) })
  return { url: proxy.url, recorded, close: () => proxy.close() }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

let vm: VictoriaMetrics
let influx: RunningServer
let integration: IntegrationProcess
let proxy: Awaited<ReturnType<typeof startRecordingProxy>>
/** The integration process's instance name. */
let instance: string
let cases: Case[] = []
const answers = new Map<number, IntegrationAnswer>()
/** Cases whose answer already disagreed with the oracle (reported once, by the first check). */
const diverged = new Set<number>()
/** The case a stored label set belongs to: its unique `fzid` label, or its unique x-bot-id. */
const caseOfLabels = (labels: Record<string, string | null | undefined>): number => {
  const fzid = labels.fzid
  const botId = labels.botId
  if (fzid?.startsWith('c')) return Number(fzid.slice(1))
  if (botId?.startsWith(`fz${SEED}-`)) return Number(botId.slice(`fz${SEED}-`.length))
  return NaN
}
const acceptedAgainstOracle = (): number =>
  cases.filter((c) => diverged.has(c.index) && !c.verdict.accepted && answers.get(c.index)?.status === 200).length
const caseOfLine = (line: string): number => {
  const fzid = /,fzid=c(\d+)[, ]/u.exec(line)
  const botId = new RegExp(`,botId=fz${SEED}-(\\d+)[, ]`, 'u').exec(line)
  return Number(fzid?.[1] ?? botId?.[1] ?? NaN)
}
const timings: Record<string, number> = {}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const show = (value: unknown, max = 400): string => {
  const s = JSON.stringify(value) ?? String(value)
  return s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s
}
const describeCase = (c: Case): string =>
  `case #${c.index} (${c.origin}, seed ${SEED}) x-bot-id=${c.headerBotId} config=${show({ ...c.configuration, apiKey: '…', grafanaUrl: '…' })} input=${show(c.input)}`
const labelKey = (labels: Record<string, string>): string =>
  JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

/** VictoriaMetrics keeps ~12 significant digits and flushes magnitudes below ~1e-296 to zero. */
const vmSameValue = (expected: number, stored: number): boolean =>
  expected === stored ||
  Math.abs(stored - expected) <= 1e-11 * Math.abs(expected) ||
  (stored === 0 && Math.abs(expected) < 1e-290)

/**
 * One action, exactly as dev/botpress.ts's triggerAction sends it (its headersFor, the
 * same body), over a keep-alive node:http agent: fetch costs ~4 ms a call here, this ~1.4 ms.
 */
// An idle socket is dropped before the served bundle's server closes it (node's keepAliveTimeout,
// 5 s): a request on a socket the server is closing fails with "socket hang up".
const callAgent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, timeout: 4_000 })
const trigger = (
  baseUrl: string,
  configuration: unknown,
  type: string,
  input: unknown,
  botId: string
): Promise<IntegrationAnswer> => {
  const url = new URL(baseUrl)
  return new Promise<IntegrationAnswer>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        agent: callAgent,
        timeout: 60_000,
        headers: headersFor('action_triggered', configuration, botId)
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body, text })
        })
        res.on('error', reject)
      }
    )
    req.on('timeout', () => req.destroy(new Error('no answer from the integration within 60 s')))
    req.on('error', reject)
    req.end(JSON.stringify({ type, input }))
  })
}

/** Calls every case, CONCURRENCY at a time, until all are answered or `deadline` (ms) passes. */
const callAll = async <C extends { readonly index: number }>(
  cases: readonly C[],
  answers: Map<number, IntegrationAnswer>,
  deadline: number,
  call: (c: C) => Promise<IntegrationAnswer>
): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < cases.length && Date.now() < deadline) {
      const c = cases[next++]!
      answers.set(c.index, await call(c))
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}

/** Whether `answer` is the clear refusal a refused case must get: 400 with a message that starts with `prefix`. */
const isRefusalAnswer = (answer: IntegrationAnswer, prefix: string): boolean => {
  const message = (answer.body as { message?: unknown })?.message
  return answer.status === 400 && typeof message === 'string' && message.startsWith(prefix)
}

/**
 * VictoriaMetrics 1.79 truncates label names longer than 256 bytes (measured; Grafana accepts
 * 1024): the labels VM stores for the oracle's labels. Sanitised names are ASCII.
 */
const VM_MAX_LABEL_NAME = 256
const vmLabels = (labels: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(labels).map(([k, v]) => [k.slice(0, VM_MAX_LABEL_NAME), v]))

/** An InfluxDB series key `m,k=v,…` split at unescaped commas (escapes: `\,` `\=` `\ `). */
const splitSeriesKey = (key: string): string[] => {
  const parts: string[] = []
  let current = ''
  for (let i = 0; i < key.length; i++) {
    if (key[i] === '\\' && i + 1 < key.length) {
      current += key.slice(i, i + 2)
      i++
    } else if (key[i] === ',') {
      parts.push(current)
      current = ''
    } else {
      current += key[i]
    }
  }
  parts.push(current)
  return parts
}
const unescapeKeyPart = (s: string): string => s.replace(/\\([,= ])/gu, '$1')
const splitTag = (tag: string): [string, string] => {
  const at = /(?<!\\)=/u.exec(tag)?.index ?? -1
  return [unescapeKeyPart(tag.slice(0, at)), unescapeKeyPart(tag.slice(at + 1))]
}

const accepted = () =>
  cases.filter((c) => c.verdict.accepted) as Array<Case & { verdict: Extract<Verdict, { accepted: true }> }>

beforeAll(
  async () => {
    const started = Date.now()
    vm = await startVictoriaMetrics({ username: USER_ID })
    influx = await startInfluxDB()
    proxy = await startRecordingProxy(vm.url)
    integration = await startIntegrationProcess()
    const configuration = { grafanaUrl: `${proxy.url}/influx/write`, grafanaUserId: USER_ID, apiKey: vm.password }
    instance = await instanceOf(integration)

    const drafts = fc.sample(draftArb, { seed: SEED, numRuns: RUNS })
    const pinned = pinnedDrafts()
    cases = [
      ...pinned.map((d, i) => makeCase(d, i, `pinned ${i}`, configuration, instance)),
      ...drafts.map((d, i) => makeCase(d, pinned.length + i, `generated ${i}`, configuration, instance))
    ]
    timings.setupMs = Date.now() - started
    console.log(
      `[injection] seed ${SEED} (FUZZ_SEED to change), ${drafts.length} generated + ${pinned.length} pinned cases (FUZZ_RUNS to raise)`
    )

    const callsStarted = Date.now()
    await callAll(cases, answers, callsStarted + 540_000 * SCALE, (c) =>
      trigger(integration.url, c.configuration, 'sendMetric', c.input, c.headerBotId)
    )
    timings.callsMs = Date.now() - callsStarted
  },
  120_000 + 600_000 * SCALE
)

afterAll(async () => {
  callAgent.destroy()
  await integration?.stop()
  await proxy?.close()
  await vm?.stop()
  await influx?.stop()
  console.log(`[injection] timings (ms): ${JSON.stringify(timings)}`)
})

describe(`Send Metric injection, property-based (seed ${SEED})`, () => {
  it('every case: refused ones answer 400 with a message; accepted ones answer the oracle’s series name and labels', () => {
    expect(answers.size).toBe(cases.length)

    const failures: string[] = []
    for (const c of cases) {
      const answer = answers.get(c.index)!
      const verdict = c.verdict
      if (!verdict.accepted) {
        const message = (answer.body as { message?: unknown })?.message
        if (
          answer.status !== 400 ||
          typeof message !== 'string' ||
          !message.startsWith('Send Metric failed: ') ||
          message.length < 30
        ) {
          diverged.add(c.index)
          failures.push(
            `${describeCase(c)}\n  oracle: refused (${verdict.why}); integration: ${answer.status} ${show(answer.text, 300)}`
          )
        }
        continue
      }
      const output = (answer.body as { output?: { seriesName?: unknown; labels?: unknown; timestamp?: unknown } })
        ?.output
      const ok =
        answer.status === 200 &&
        output !== undefined &&
        output.seriesName === verdict.series &&
        labelKey(output.labels as Record<string, string>) === labelKey(verdict.labels) &&
        Number.isSafeInteger(output.timestamp)
      if (!ok) {
        diverged.add(c.index)
        failures.push(
          `${describeCase(c)}\n  oracle: accepted as ${show(verdict.series, 80)} ${show(verdict.labels, 300)}; integration: ${answer.status} ${show(answer.text, 300)}`
        )
      }
    }
    const count = accepted().length
    console.log(
      `[injection] ${cases.length} cases: ${count} accepted, ${cases.length - count} refused; calls took ${timings.callsMs} ms`
    )
    expect(
      failures.length,
      `${failures.length} disagreements with the oracle:\n${failures.slice(0, REPORT_LIMIT).join('\n')}`
    ).toBe(0)
    // The generators must reach both sides in earnest.
    expect(count).toBeGreaterThan(cases.length * 0.15)
    expect(cases.length - count).toBeGreaterThan(cases.length * 0.15)
  })

  it(
    'the wire: one write of one line per accepted call, exactly the oracle’s measurement and tags; nothing for refusals',
    () => {
      const byPrefix = new Map<string, Case & { verdict: Extract<Verdict, { accepted: true }> }>()
      for (const c of accepted()) {
        if (answers.get(c.index)?.status !== 200) continue
        expect(byPrefix.has(c.verdict.linePrefix), `two cases share a series: ${describeCase(c)}`).toBe(false)
        byPrefix.set(c.verdict.linePrefix, c)
      }
      const failures: string[] = []
      const seen = new Set<number>()
      for (const r of proxy.recorded) {
        const body = r.body.toString('utf8')
        const query = new URL(r.path, 'http://x').searchParams
        if (
          new URL(r.path, 'http://x').pathname !== '/influx/write' ||
          query.get('precision') !== 'ms' ||
          r.upstreamStatus !== 204
        ) {
          failures.push(`unexpected write ${r.path} → ${r.upstreamStatus}: ${show(body, 200)}`)
          continue
        }
        if (/[\r\n]/.test(body)) {
          failures.push(`a write with a line break (${r.body.length} bytes): ${show(body, 300)}`)
          continue
        }
        const at = body.lastIndexOf(' metric=')
        const prefix = body.slice(0, at)
        const match = /^ metric=(\S+) (\d+)$/.exec(body.slice(at))
        const c = byPrefix.get(prefix)
        if (at < 0 || !match || !c) {
          if (!diverged.has(caseOfLine(body))) failures.push(`a write no accepted case explains: ${show(body, 400)}`)
          continue
        }
        if (seen.has(c.index)) failures.push(`${describeCase(c)}\n  written more than once`)
        seen.add(c.index)
        const output = (answers.get(c.index)!.body as { output: { timestamp: number } }).output
        if (
          Number(match[1]) !== c.verdict.value ||
          Number(match[2]) !== output.timestamp ||
          !Buffer.from(body, 'utf8').equals(r.body)
        ) {
          failures.push(
            `${describeCase(c)}\n  wire ${show(body.slice(at), 100)}; expected value ${c.verdict.value} at ${output.timestamp}`
          )
        }
      }
      for (const c of byPrefix.values()) {
        if (!seen.has(c.index))
          failures.push(`${describeCase(c)}\n  accepted but never written with the oracle's measurement and tags`)
      }
      console.log(`[injection] ${proxy.recorded.length} writes recorded`)
      expect(byPrefix.size).toBeGreaterThan(cases.length * 0.15)
      expect(failures.length, `${failures.length} wire problems:\n${failures.slice(0, REPORT_LIMIT).join('\n')}`).toBe(
        0
      )
      // Cases the first check already reported (answered 200 where the oracle refuses) wrote too.
      expect(proxy.recorded.length).toBe(byPrefix.size + acceptedAgainstOracle())
    },
    60_000 * SCALE
  )

  it(
    'VictoriaMetrics: exactly one sample per accepted case, in a series with exactly the oracle’s name and labels; no other series',
    async () => {
      const started = Date.now()
      const expected = new Map<string, Case & { verdict: Extract<Verdict, { accepted: true }> }>()
      for (const c of accepted()) {
        if (answers.get(c.index)?.status === 200)
          expected.set(labelKey({ __name__: c.verdict.series, ...vmLabels(c.verdict.labels) }), c)
      }
      const readAll = (): Promise<ExportedSeries[]> => vm.exportSeries('{__name__!=""}')
      // Fresh writes show a moment after force_flush in VM 1.79: poll, bounded in count and time,
      // until every expected series is there, then read once more to catch late extras.
      let series: ExportedSeries[] = []
      const deadline = Date.now() + 60_000 * SCALE
      for (let attempt = 0; attempt < 120 * SCALE && Date.now() < deadline; attempt++) {
        series = await readAll()
        if (series.length >= expected.size) break
        await sleep(500)
      }
      await sleep(1_500)
      series = await readAll()
      timings.vmReadMs = Date.now() - started

      const failures: string[] = []
      const matched = new Set<string>()
      let lossy = 0
      const truncated = [...expected.values()].filter((c) =>
        Object.keys(c.verdict.labels).some((k) => k.length > VM_MAX_LABEL_NAME)
      ).length
      for (const s of series) {
        const key = labelKey(s.metric)
        const c = expected.get(key)
        if (!c) {
          if (!diverged.has(caseOfLabels(s.metric)))
            failures.push(`a series no accepted case explains: ${show(s, 500)}`)
          continue
        }
        matched.add(key)
        const output = (answers.get(c.index)!.body as { output: { timestamp: number } }).output
        const value = s.values[0]
        if (
          s.values.length !== 1 ||
          s.timestamps.length !== 1 ||
          s.timestamps[0] !== output.timestamp ||
          typeof value !== 'number' ||
          !vmSameValue(c.verdict.value, value)
        ) {
          failures.push(
            `${describeCase(c)}\n  stored ${show({ values: s.values, timestamps: s.timestamps })}; expected [${c.verdict.value}] at ${output.timestamp}`
          )
        } else if (value !== c.verdict.value) {
          lossy++
        }
      }
      for (const [key, c] of expected) {
        if (!matched.has(key)) failures.push(`${describeCase(c)}\n  no series ${show(key, 500)}`)
      }
      console.log(
        `[injection] VictoriaMetrics: ${series.length} series for ${expected.size} accepted cases; ${lossy} values within VM's ~12-digit storage loss; ${truncated} series with a label name cut to 256 bytes by VM; read in ${timings.vmReadMs} ms`
      )
      expect(
        failures.length,
        `${failures.length} VictoriaMetrics disagreements:\n${failures.slice(0, REPORT_LIMIT).join('\n')}`
      ).toBe(0)
      expect(expected.size).toBeGreaterThan(cases.length * 0.15)
      expect(series.length).toBe(expected.size + acceptedAgainstOracle())
    },
    180_000 * SCALE
  )

  it(
    'InfluxDB 1.6 accepts every wire line as exactly one point, with the same measurement, tags, value and time',
    async () => {
      const started = Date.now()
      const query = async (q: string, db?: string) => {
        const response = await fetch(
          `${influx.url}/query?${new URLSearchParams({ q, epoch: 'ms', ...(db ? { db } : {}) })}`,
          {
            method: 'POST',
            signal: AbortSignal.timeout(120_000)
          }
        )
        const text = await response.text()
        expect(response.status, text.slice(0, 300)).toBe(200)
        return JSON.parse(text) as {
          results: Array<{
            series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }>
            error?: string
          }>
        }
      }
      const write = async (db: string, body: Buffer) => {
        const response = await fetch(`${influx.url}/write?db=${db}&precision=ms`, {
          method: 'POST',
          body,
          signal: AbortSignal.timeout(60_000)
        })
        return { status: response.status, text: await response.text() }
      }
      await query('CREATE DATABASE fuzz')
      await query('CREATE DATABASE probe')

      // Batches: InfluxDB stores the good lines of a batch that has a bad one ("partial write"),
      // so what is missing on read-back is exactly what it refused.
      const lines = proxy.recorded.filter((r) => r.upstreamStatus === 204).map((r) => r.body)
      const BATCH = 1000
      let refusedBatches = 0
      for (let i = 0; i < lines.length; i += BATCH) {
        const batch = lines.slice(i, i + BATCH)
        const result = await write(
          'fuzz',
          Buffer.concat(batch.flatMap((b, j) => (j === 0 ? [b] : [Buffer.from('\n'), b])))
        )
        if (result.status !== 204) refusedBatches++
      }

      const expected = new Map<string, Case & { verdict: Extract<Verdict, { accepted: true }> }>()
      for (const c of accepted()) {
        if (answers.get(c.index)?.status === 200)
          expected.set(`${c.verdict.measurement}\u0000${labelKey(c.verdict.labels)}`, c)
      }
      // Series keys (the index: fast) for the exact measurement and tags; then every point with
      // the two labels that identify its case. (`SELECT * … GROUP BY *` takes minutes at this size.)
      const seriesKeys =
        (await query('SHOW SERIES', 'fuzz')).results[0]?.series?.[0]?.values.map((v) => String(v[0])) ?? []
      const failures: string[] = []
      const matched = new Set<string>()
      for (const key of seriesKeys) {
        const parts = splitSeriesKey(key)
        const tags = Object.fromEntries(parts.slice(1).map(splitTag))
        const id = `${parts[0]}\u0000${labelKey(tags)}`
        if (!expected.has(id)) {
          if (!diverged.has(caseOfLabels(tags)))
            failures.push(`an InfluxDB series no accepted case explains: ${show(key, 400)}`)
          continue
        }
        if (matched.has(id)) failures.push(`an InfluxDB series key twice: ${show(key, 400)}`)
        matched.add(id)
      }
      const byIndex = new Map([...expected.values()].map((c) => [c.index, c]))
      const pointsOf = new Map<number, unknown[][]>()
      let points = 0
      for (const s of (await query('SELECT "metric", "fzid"::tag, "botId"::tag FROM /.*/', 'fuzz')).results[0]
        ?.series ?? []) {
        for (const row of s.values) {
          points++
          const [time, metric, fzid, botId] = row as [number, number, string | null, string | null]
          const index = caseOfLabels({ fzid, botId })
          const c = byIndex.get(index)
          if (diverged.has(index)) continue
          if (!c || c.verdict.measurement !== s.name) {
            failures.push(`an InfluxDB point no accepted case explains: ${show({ measurement: s.name, row }, 300)}`)
            continue
          }
          pointsOf.set(index, [...(pointsOf.get(index) ?? []), [time, metric]])
        }
      }
      for (const [index, rows] of pointsOf) {
        const c = byIndex.get(index)!
        const output = (answers.get(c.index)!.body as { output: { timestamp: number } }).output
        if (rows.length !== 1 || rows[0]![0] !== output.timestamp || rows[0]![1] !== c.verdict.value) {
          failures.push(
            `${describeCase(c)}\n  InfluxDB holds ${show(rows)}; expected [${output.timestamp}, ${c.verdict.value}]`
          )
        }
      }

      // Each refused line once more on its own (bounded), for InfluxDB's reason.
      const missing = [...expected].filter(([key]) => !matched.has(key)).map(([, c]) => c)
      const reasons = new Map<string, number>()
      const lineOf = new Map<string, Buffer>()
      for (const r of proxy.recorded) {
        const body = r.body.toString('utf8')
        lineOf.set(body.slice(0, body.lastIndexOf(' metric=')), r.body)
      }
      for (const c of missing.slice(0, 200)) {
        const line = lineOf.get(c.verdict.linePrefix)
        const single = line ? await write('probe', line) : { status: 0, text: 'never written' }
        const reason = single.text
          .replace(/"unable to parse '[^]*': /u, '"unable to parse <line>: ')
          .replace(/on measurement \\"[^]*?\\"/u, 'on measurement <m>')
          .replace(/\d{4,}/gu, 'N')
          .trim()
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
        failures.push(`${describeCase(c)}\n  InfluxDB refused the line (${single.status}): ${show(single.text, 300)}`)
      }
      timings.influxMs = Date.now() - started
      console.log(
        `[injection] InfluxDB: ${lines.length} lines written in ${Math.ceil(lines.length / BATCH)} batches (${refusedBatches} partly refused), ${points} points read back, ${missing.length} lines refused, in ${timings.influxMs} ms; reasons: ${show(Object.fromEntries(reasons), 2000)}`
      )
      expect(
        failures.length,
        `${failures.length} InfluxDB problems (reasons: ${show(Object.fromEntries(reasons), 2000)}):\n${failures.slice(0, REPORT_LIMIT).join('\n')}`
      ).toBe(0)
      expect(expected.size).toBeGreaterThan(cases.length * 0.15)
      expect(points).toBe(expected.size)
    },
    300_000 * SCALE
  )

  it('the API key and the Basic credentials appear in no answer, no write and nowhere in the integration’s output', () => {
    const key = vm.password
    const basic = Buffer.from(`${USER_ID}:${key}`).toString('base64')
    const windows = (secret: string) => Array.from({ length: secret.length - 11 }, (_, i) => secret.slice(i, i + 12))
    const secrets = [...windows(key), ...windows(basic)]
    const texts = [
      ...[...answers.values()].map((a) => a.text),
      ...proxy.recorded.map((r) => r.body.toString('utf8')),
      integration.output()
    ]
    const leaks = texts.filter((t) => secrets.some((s) => t.includes(s)))
    expect(leaks.map((t) => t.slice(0, 200))).toEqual([])
    expect(integration.output()).toContain('Send Metric failed')
  })
})

// ---------------------------------------------------------------------------------------------
// Send LLM Usage: the same hostile text in the card's own labels and in its extra labels
// ---------------------------------------------------------------------------------------------

const LLM_RUNS = Math.ceil(RUNS / 5)

interface LlmDraft {
  provider: string | undefined
  model: string | undefined
  /** Provider and model in the LLM response (as JSON text) instead of the fields. */
  inResponse: boolean
  operation: string | undefined
  stopReason: string | undefined
  errorType: string | undefined
  channel: string | undefined
  version: string | number | undefined
  tags: { kind: 'object' | 'json'; entries: Array<[string, TagValue]> }
  includeIds: boolean | undefined
  inputTokens: number | undefined
  outputTokens: number | undefined
  /** Thousandths of a dollar, so the wire and the store show the same digits. */
  costMilli: number | undefined
  durationMs: number | undefined
}

const llmDraftArb: fc.Arbitrary<LlmDraft> = fc.record({
  provider: labelArb,
  model: labelArb,
  inResponse: fc.boolean(),
  operation: labelArb,
  stopReason: labelArb,
  errorType: labelArb,
  channel: labelArb,
  version: versionArb,
  tags: fc.record({ kind: fc.constantFrom<'object' | 'json'>('object', 'json'), entries: tagEntriesArb }),
  includeIds: fc.constantFrom(true, false, undefined),
  inputTokens: fc.option(fc.nat(1_000_000), { nil: undefined }),
  outputTokens: fc.option(fc.nat(100_000), { nil: undefined }),
  costMilli: fc.option(fc.nat(10_000), { nil: undefined }),
  durationMs: fc.option(fc.nat(120_000), { nil: undefined })
})

type LlmVerdict =
  | Refusal
  | {
      accepted: true
      labels: Record<string, string>
      /** Each line: its labels and its fields in order. */
      lines: Array<{ labels: Record<string, string>; fields: Array<[string, number]> }>
    }

const LLM_MEASUREMENT = 'gen_ai_client'
const linePrefixOf = (labels: Record<string, string>): string =>
  LLM_MEASUREMENT +
  Object.keys(labels)
    .sort()
    .map((k) => `,${k}=${escapeTag(labels[k]!)}`)
    .join('')

const llmOracle = (input: Record<string, unknown>, context: Context): LlmVerdict => {
  const response = (typeof input.response === 'string' ? JSON.parse(input.response) : {}) as {
    provider?: string
    model?: string
  }
  const text = (field: string): string => {
    const raw = input[field]
    return typeof raw !== 'string' || isTemplate(raw) ? '' : raw
  }
  const labels = oracleLabels(input, context, [
    ['gen_ai_provider_name', text('provider') || (response.provider ?? '')],
    ['gen_ai_request_model', text('model') || (response.model ?? '')],
    ['gen_ai_operation_name', text('operation') || 'chat'],
    ['gen_ai_response_finish_reason', text('stopReason')],
    ['error_type', text('errorType')],
    ['gen_ai_token_type', '']
  ])
  if (isRefusal(labels)) return labels
  const call: Array<[string, number]> = [['operations', 1]]
  if (typeof input.durationMs === 'number') call.push(['operation_duration_seconds', input.durationMs / 1000])
  if (typeof input.cost === 'number') call.push(['cost_usd', input.cost])
  const lines = [{ labels, fields: call }]
  for (const type of ['input', 'output'] as const) {
    const count = input[`${type}Tokens`]
    if (typeof count === 'number')
      lines.push({ labels: { ...labels, gen_ai_token_type: type }, fields: [['token_usage', count]] })
  }
  for (const line of lines) {
    for (const [field] of line.fields) {
      if (bytes(linePrefixOf(line.labels)) + 4 + field.length > 65535) return refuse('series key too long')
    }
  }
  return { accepted: true, labels, lines }
}

interface LlmCase {
  readonly index: number
  readonly input: Record<string, unknown>
  readonly configuration: Record<string, unknown>
  readonly headerBotId: string
  readonly verdict: LlmVerdict
}

const makeLlmCase = (draft: LlmDraft, index: number, baseConfiguration: Record<string, unknown>): LlmCase => {
  const headerBotId = `fzl${SEED}-${index}`
  const input: Record<string, unknown> = {}
  const set = (key: string, value: unknown) => {
    if (value !== undefined) input[key] = value
  }
  if (draft.inResponse) {
    const response: Record<string, unknown> = {
      id: `r${index}`,
      choices: [{ role: 'assistant', type: 'text', content: 'text', index: 0 }]
    }
    if (draft.provider !== undefined) response.provider = draft.provider
    if (draft.model !== undefined) response.model = draft.model
    set('response', JSON.stringify(response))
  } else {
    set('provider', draft.provider)
    set('model', draft.model)
  }
  set('operation', draft.operation)
  set('stopReason', draft.stopReason)
  set('errorType', draft.errorType)
  set('channel', draft.channel)
  set('version', draft.version)
  set('inputTokens', draft.inputTokens)
  set('outputTokens', draft.outputTokens)
  set('cost', draft.costMilli === undefined ? undefined : draft.costMilli / 1000)
  set('durationMs', draft.durationMs)
  const entries: Array<[string, unknown]> = [...draft.tags.entries, ['fzid', `l${index}`]]
  set('tags', tagsInput(draft.tags.kind, entries))
  const configuration = configurationFor(baseConfiguration, draft.includeIds)
  const received = JSON.parse(JSON.stringify(input)) as Record<string, unknown>
  return {
    index,
    input,
    configuration,
    headerBotId,
    verdict: llmOracle(received, { headerBotId, includeIds: draft.includeIds !== false, instance })
  }
}

const pinnedLlmDrafts = (): LlmDraft[] => {
  const base: LlmDraft = {
    provider: 'openai',
    model: 'gpt-4o-mini',
    inResponse: false,
    operation: undefined,
    stopReason: undefined,
    errorType: undefined,
    channel: undefined,
    version: undefined,
    tags: { kind: 'object', entries: [] },
    includeIds: undefined,
    inputTokens: 10,
    outputTokens: 2,
    costMilli: 1,
    durationMs: 5
  }
  return [
    { ...base, provider: 'openai\ngen_ai_client,evil=1 operations=666 1', model: 'm,evil=1 token_usage=9' },
    { ...base, inResponse: true, provider: 'p\\', model: 'a b=c,d\r\n# x' },
    {
      ...base,
      stopReason: 'stop\n',
      errorType: '\\,\\=',
      tags: { kind: 'object', entries: [['gen_ai_token_type', 'x']] }
    },
    { ...base, tags: { kind: 'json', entries: [['error_type', 'x']] } }
  ]
}

describe(`Send LLM Usage injection, property-based (seed ${SEED})`, () => {
  let llmProxy: Awaited<ReturnType<typeof startRecordingProxy>>
  let llmCases: LlmCase[] = []
  const llmAnswers = new Map<number, IntegrationAnswer>()
  const describeLlmCase = (c: LlmCase): string =>
    `LLM case #${c.index} (seed ${SEED}) x-bot-id=${c.headerBotId} config=${show({ ...c.configuration, apiKey: '…', grafanaUrl: '…' })} input=${show(c.input)}`
  const acceptedLlm = () =>
    llmCases.filter((c) => c.verdict.accepted && llmAnswers.get(c.index)?.status === 200) as Array<
      LlmCase & { verdict: Exclude<LlmVerdict, Refusal> }
    >
  const caseOfLlmLabels = (labels: Record<string, string | undefined>): number =>
    Number(labels.fzid?.startsWith('l') ? labels.fzid.slice(1) : NaN)

  beforeAll(async () => {
    llmProxy = await startRecordingProxy(vm.url)
    const configuration = { grafanaUrl: `${llmProxy.url}/influx/write`, grafanaUserId: USER_ID, apiKey: vm.password }
    const drafts = [...pinnedLlmDrafts(), ...fc.sample(llmDraftArb, { seed: SEED + 1, numRuns: LLM_RUNS })]
    llmCases = drafts.map((d, i) => makeLlmCase(d, i, configuration))
  })

  afterAll(async () => {
    await llmProxy?.close()
  })

  it(
    'every case: refused ones answer 400 with a message; accepted ones answer the oracle’s labels and series',
    async () => {
      await callAll(llmCases, llmAnswers, Date.now() + 300_000 * SCALE, (c) =>
        trigger(integration.url, c.configuration, 'sendLlmUsage', c.input, c.headerBotId)
      )
      expect(llmAnswers.size).toBe(llmCases.length)
      const failures: string[] = []
      for (const c of llmCases) {
        const answer = llmAnswers.get(c.index)!
        if (!c.verdict.accepted) {
          if (!isRefusalAnswer(answer, 'Send LLM Usage failed: ')) {
            failures.push(
              `${describeLlmCase(c)}\n  oracle: refused (${c.verdict.why}); integration: ${answer.status} ${show(answer.text, 300)}`
            )
          }
          continue
        }
        const output = (answer.body as { output?: { seriesNames?: unknown; labels?: unknown } })?.output
        const series = [
          ...new Set(c.verdict.lines.flatMap((line) => line.fields.map(([field]) => `${LLM_MEASUREMENT}_${field}`)))
        ].sort()
        if (
          answer.status !== 200 ||
          labelKey((output?.labels ?? {}) as Record<string, string>) !== labelKey(c.verdict.labels) ||
          JSON.stringify(output?.seriesNames) !== JSON.stringify(series)
        ) {
          failures.push(
            `${describeLlmCase(c)}\n  oracle: accepted with ${show(c.verdict.labels, 300)} ${show(series)}; integration: ${answer.status} ${show(answer.text, 300)}`
          )
        }
      }
      const count = llmCases.filter((c) => c.verdict.accepted).length
      console.log(
        `[injection] ${llmCases.length} Send LLM Usage cases: ${count} accepted, ${llmCases.length - count} refused`
      )
      expect(
        failures.length,
        `${failures.length} disagreements with the oracle:\n${failures.slice(0, REPORT_LIMIT).join('\n')}`
      ).toBe(0)
      expect(count).toBeGreaterThan(llmCases.length * 0.15)
      expect(llmCases.length - count).toBeGreaterThan(llmCases.length * 0.05)
    },
    360_000 * SCALE
  )

  it('the wire: one write per accepted call, exactly the oracle’s lines (the call’s and one per token type); nothing for refusals', () => {
    const byIndex = new Map(acceptedLlm().map((c) => [c.index, c]))
    const failures: string[] = []
    const seen = new Set<number>()
    for (const r of llmProxy.recorded) {
      const body = r.body.toString('utf8')
      const c = byIndex.get(caseOfLlmLabels({ fzid: /,fzid=(l\d+)[, ]/u.exec(body)?.[1] }))
      if (!c || r.upstreamStatus !== 204 || seen.has(c.index)) {
        failures.push(`a write no accepted case explains, or a second one (${r.upstreamStatus}): ${show(body, 400)}`)
        continue
      }
      seen.add(c.index)
      const timestamp = (llmAnswers.get(c.index)!.body as { output: { timestamp: number } }).output.timestamp
      const expected = c.verdict.lines
        .map(
          (line) =>
            `${linePrefixOf(line.labels)} ${line.fields.map(([field, value]) => `${field}=${value}`).join(',')} ${timestamp}`
        )
        .join('\n')
      if (body !== expected)
        failures.push(`${describeLlmCase(c)}\n  wire ${show(body, 400)}\n  expected ${show(expected, 400)}`)
    }
    expect(failures.length, `${failures.length} wire problems:\n${failures.slice(0, REPORT_LIMIT).join('\n')}`).toBe(0)
    expect(seen.size).toBe(byIndex.size)
    expect(llmProxy.recorded.length).toBe(byIndex.size)
  })

  it(
    'VictoriaMetrics: exactly the oracle’s series for every accepted call, one sample each; no other gen_ai_client series',
    async () => {
      const expected = new Map<string, { c: LlmCase; value: number }>()
      for (const c of acceptedLlm()) {
        for (const line of c.verdict.lines) {
          for (const [field, value] of line.fields) {
            expected.set(labelKey({ __name__: `${LLM_MEASUREMENT}_${field}`, ...vmLabels(line.labels) }), { c, value })
          }
        }
      }
      const readLlm = (): Promise<ExportedSeries[]> => vm.exportSeries('{__name__=~"gen_ai_client_.+"}')
      let series = await readLlm()
      const deadline = Date.now() + 60_000 * SCALE
      for (
        let attempt = 0;
        attempt < 120 * SCALE && series.length < expected.size && Date.now() < deadline;
        attempt++
      ) {
        await sleep(500)
        series = await readLlm()
      }
      await sleep(1_500)
      series = await readLlm()
      const failures: string[] = []
      for (const s of series) {
        const hit = expected.get(labelKey(s.metric))
        if (!hit) {
          failures.push(`a series no accepted case explains: ${show(s, 500)}`)
          continue
        }
        const timestamp = (llmAnswers.get(hit.c.index)!.body as { output: { timestamp: number } }).output.timestamp
        if (s.values.length !== 1 || s.timestamps[0] !== timestamp || !vmSameValue(hit.value, Number(s.values[0]))) {
          failures.push(
            `${describeLlmCase(hit.c)}\n  stored ${show({ values: s.values, timestamps: s.timestamps })}; expected [${hit.value}] at ${timestamp}`
          )
        }
      }
      console.log(
        `[injection] VictoriaMetrics: ${series.length} gen_ai_client series for ${acceptedLlm().length} accepted Send LLM Usage calls`
      )
      expect(
        failures.length,
        `${failures.length} VictoriaMetrics disagreements:\n${failures.slice(0, REPORT_LIMIT).join('\n')}`
      ).toBe(0)
      expect(series.length).toBe(expected.size)
    },
    120_000 * SCALE
  )

  it('the API key appears in no answer and no write', () => {
    const windows = Array.from({ length: vm.password.length - 11 }, (_, i) => vm.password.slice(i, i + 12))
    const texts = [
      ...[...llmAnswers.values()].map((a) => a.text),
      ...llmProxy.recorded.map((r) => r.body.toString('utf8'))
    ]
    expect(texts.filter((t) => windows.some((w) => t.includes(w))).map((t) => t.slice(0, 200))).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------------
// Send Log: the same hostile text in the message, the event, the IDs and the attributes
// ---------------------------------------------------------------------------------------------

const LOG_RUNS = RUNS
const LOG_LEVELS = ['critical', 'error', 'warning', 'info', 'debug']
/** What Loki derives from the line's JSON level: the colour of the line in Grafana's logs panel. */
const DETECTED_LEVEL: Readonly<Record<string, string>> = {
  critical: 'critical',
  error: 'error',
  warning: 'warn',
  info: 'info',
  debug: 'debug'
}
/** Grafana Cloud Logs: a line up to 256 KB, structured metadata up to 64 KB (names and values). */
const MAX_LINE_BYTES = 262_144
const MAX_METADATA_BYTES = 65_536
/**
 * Names an attribute cannot take: the metadata the card writes itself, the line's fields (`| json`
 * would show an attribute in their place), the stream labels, and the names Loki reads the level
 * from (`detected_level`, and its level fields among the metadata, which come before the line).
 */
const LOG_TAKEN = [
  'card',
  'event',
  'conversationId',
  'userId',
  'level',
  'message',
  'instance',
  'detected_level',
  'service_name',
  'botId',
  'channel',
  'version'
]
const LOG_FIELDS = ['level', 'LEVEL', 'Level', 'Severity', 'severity', 'SEVERITY', 'lvl', 'LVL', 'Lvl']

/**
 * Loki's structured metadata at ingestion (3.4's distributor): a name with a single leading `_`
 * is renamed `key_…`, and a U+FFFD in a value becomes a space. The card writes names as Loki
 * stores them; the values it cannot help.
 */
const lokiMetadataName = (name: string): string => (/^_(?!_)/u.test(name) ? `key${name}` : name)
const lokiMetadataValue = (value: string): string => value.replaceAll('\ufffd', ' ')

/** Lone surrogates → U+FFFD; every other character as it is (JSON carries them all). */
const oracleWellFormed = (raw: string): string => {
  let out = ''
  for (const ch of raw) {
    const cp = ch.codePointAt(0)!
    out += cp >= 0xd800 && cp <= 0xdfff ? '\ufffd' : ch
  }
  return out
}

type LogVerdict =
  | Refusal
  | {
      accepted: true
      /** The stream labels, service_name included. */
      stream: Record<string, string>
      line: string
      /** The structured metadata the card writes (Loki adds detected_level). */
      metadata: Record<string, string>
      level: string
    }

const logOracle = (input: Record<string, unknown>, context: Context): LogVerdict => {
  const message = input.message
  if (typeof message !== 'string') return refuse('message is not text')
  if (message === '' || isTemplate(message)) return refuse('empty message')
  const level = input.level ?? 'info'
  if (typeof level !== 'string' || !LOG_LEVELS.includes(level)) return refuse('unknown level')

  const metadata: Record<string, string> = { card: 'sendLog' }
  const event = oracleFieldText(input, 'event')
  if (isRefusal(event)) return event
  if (event !== '') {
    const measurement = oracleMeasurement(event)
    if (isRefusal(measurement)) return measurement
    metadata.event = measurement
  }

  const stream: Record<string, string> = { service_name: 'botpress' }
  for (const field of ['botId', 'channel', 'version']) {
    const text = oracleFieldText(input, field)
    if (isRefusal(text)) return text
    const value = oracleWellFormed(field === 'botId' && text === '' ? context.headerBotId : text)
    if (value === '') continue
    if (bytes(value) > MAX_VALUE_BYTES) return refuse(`stream label ${field} too long`)
    stream[field] = value
  }
  for (const field of ['conversationId', 'userId']) {
    const text = oracleFieldText(input, field)
    if (isRefusal(text)) return text
    const value = oracleWellFormed(text)
    if (value !== '') metadata[field] = value
  }

  const attributes = oracleNamedValues(input.attributes, 'attributes')
  if (isRefusal(attributes)) return attributes
  const seen = new Set<string>()
  const storedNames = new Set<string>()
  for (const [key, value] of attributes) {
    if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) {
      return refuse('attribute value type')
    }
    const name = oracleName(key, [...LOG_TAKEN, ...LOG_FIELDS], seen)
    if (isRefusal(name)) return name
    const storedName = lokiMetadataName(name)
    if (storedNames.has(storedName)) return refuse('two attributes stored under one name')
    storedNames.add(storedName)
    const stored = oracleWellFormed(String(value))
    if (stored !== '') metadata[storedName] = stored
  }
  const metadataBytes = Object.entries(metadata).reduce((total, [k, v]) => total + bytes(k) + bytes(v), 0)
  if (metadataBytes > MAX_METADATA_BYTES) return refuse('metadata too large')

  const line = JSON.stringify({ level, message: oracleWellFormed(message), instance: context.instance })
  if (bytes(line) > MAX_LINE_BYTES) return refuse('line too long')
  return { accepted: true, stream, line, metadata, level }
}

type Attributes =
  { kind: 'object' | 'json'; entries: Array<[string, TagValue]> } | { kind: 'free'; text: string | undefined }

interface LogDraft {
  message: string
  level: string | undefined
  event: string | undefined
  channel: string | undefined
  botId: string | undefined
  conversationId: string | undefined
  userId: string | undefined
  version: string | number | undefined
  attributes: Attributes
}

/** The level field's values, and some it refuses. */
const levelArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(undefined, ...LOG_LEVELS) },
  { weight: 1, arbitrary: fc.constantFrom('', 'warn', 'fatal', 'INFO', ' info', 'trace') }
)
/** What a line could try to pass off as another field, line or entry. */
const LINE_TRICKS = [
  '',
  ' ',
  '{"level":"debug","message":"x"}',
  'level=debug msg=x',
  '","level":"critical',
  '"}\n{"level":"error","message":"second line"}',
  '"]],"stream":{"evil":"1"},"values":[["1","x"',
  '\\',
  '\\"',
  'x\u0000y',
  '\ud83d',
  '{{event.preview}}',
  ' {{x}} '
]
const messageArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: text },
  { weight: 2, arbitrary: fc.constantFrom(...LINE_TRICKS) },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.oneof(fc.constantFrom(...LINE_TRICKS), shortText), { minLength: 2, maxLength: 6 })
      .map((parts) => parts.join(''))
  }
)
const attributeKeyArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: tagKeyArb },
  { weight: 1, arbitrary: fc.constantFrom(...LOG_TAKEN, ...LOG_FIELDS, 'stream', 'values', 'ts', 'line', 'fzid') }
)
const attributeValueArb: fc.Arbitrary<TagValue> = fc.oneof(
  { weight: 30, arbitrary: text },
  { weight: 8, arbitrary: numberArb },
  { weight: 2, arbitrary: fc.constantFrom<TagValue>('', '{{event.x}}', true, null, { a: 1 }, ['x']) }
)
const attributeEntriesArb = fc.oneof(
  { weight: 19, arbitrary: fc.array(fc.tuple(attributeKeyArb, attributeValueArb), { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(fc.tuple(attributeKeyArb, attributeValueArb), { minLength: 18, maxLength: 21 }) }
)
const logDraftArb: fc.Arbitrary<LogDraft> = fc.record({
  message: messageArb,
  level: levelArb,
  event: fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: templateArb },
    { weight: 6, arbitrary: nameArb }
  ),
  channel: labelArb,
  botId: labelArb,
  conversationId: labelArb,
  userId: labelArb,
  version: versionArb,
  attributes: fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constantFrom<'object' | 'json'>('object', 'json'),
        entries: attributeEntriesArb
      })
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant<'free'>('free'), text: fc.option(freeTagsText, { nil: undefined }) })
    }
  )
})

interface LogCase {
  readonly index: number
  readonly input: Record<string, unknown>
  readonly verdict: LogVerdict
}

const LOG_BOT = 'fuzz-log-bot'

const makeLogCase = (draft: LogDraft, index: number): LogCase => {
  const input: Record<string, unknown> = { message: draft.message }
  const set = (key: string, value: unknown) => {
    if (value !== undefined) input[key] = value
  }
  set('level', draft.level)
  set('event', draft.event)
  set('channel', draft.channel)
  set('botId', draft.botId)
  set('conversationId', draft.conversationId)
  set('userId', draft.userId)
  set('version', draft.version)
  set(
    'attributes',
    draft.attributes.kind === 'free'
      ? draft.attributes.text
      : tagsInput(draft.attributes.kind, draft.attributes.entries)
  )
  const received = JSON.parse(JSON.stringify(input)) as Record<string, unknown>
  return {
    index,
    input,
    verdict: logOracle(received, { headerBotId: LOG_BOT, includeIds: true, instance })
  }
}

/** Hand-picked cases: injections into the push body and the line, and each limit at and past its edge. */
const pinnedLogDrafts = (): LogDraft[] => {
  const base: LogDraft = {
    message: 'pinned',
    level: undefined,
    event: undefined,
    channel: undefined,
    botId: undefined,
    conversationId: undefined,
    userId: undefined,
    version: undefined,
    attributes: { kind: 'object', entries: [] }
  }
  const attrs = (...entries: Array<[string, TagValue]>): Attributes => ({ kind: 'object', entries })
  const lineOverhead = bytes(JSON.stringify({ level: 'info', message: '', instance: 'i'.repeat(13) }))
  const room = MAX_LINE_BYTES - lineOverhead
  // card=sendLog, then 20 attributes a00…a19 whose values fill the rest of the 64 KB exactly.
  const metadataRoom = MAX_METADATA_BYTES - bytes('cardsendLog') - 20 * 3
  const filling = (extra: number): Attributes =>
    attrs(
      ...Array.from({ length: 20 }, (_, i): [string, TagValue] => {
        const size = Math.floor(metadataRoom / 20) + (i === 0 ? (metadataRoom % 20) + extra : 0)
        return [`a${String(i).padStart(2, '0')}`, 'v'.repeat(size)]
      })
    )
  return [
    {
      ...base,
      message: '"]],"stream":{"evil":"1"},"values":[["1","x"]]},{"stream":{"a":"b"},"values":[["1","y',
      level: 'error',
      event: 'evil"},"x":"y',
      channel: 'web"},{"stream":{"evil":"1"}',
      conversationId: '"}\n{"level":"critical"}',
      attributes: attrs(['note', '","service_name":"evil'], ['x', '\n'])
    },
    { ...base, message: '{"level":"debug","message":"x","instance":"other"}', level: 'critical' },
    { ...base, message: 'level=debug', attributes: attrs(['severity', 'debug']) },
    { ...base, message: 'lvl', attributes: attrs(['Level', 'debug']) },
    { ...base, attributes: attrs(['detected_level', 'debug']) },
    { ...base, attributes: attrs(['service_name', 'evil']) },
    { ...base, attributes: attrs(['__proto__', 'x']) },
    { ...base, attributes: { kind: 'json', entries: [['__proto__', 'x']] } },
    { ...base, message: '\ud800', channel: '\udfff', userId: 'a\ud800b', attributes: attrs(['k', '\udbff\udbff']) },
    { ...base, message: 'x'.repeat(room) },
    { ...base, message: 'x'.repeat(room + 1) },
    { ...base, message: '\n'.repeat(Math.floor(room / 2)) },
    { ...base, message: '\n'.repeat(Math.floor(room / 2) + 1) },
    { ...base, attributes: filling(0) },
    { ...base, attributes: filling(1) },
    { ...base, channel: 'c'.repeat(2048), botId: 'b'.repeat(2048), version: 'v'.repeat(2048) },
    { ...base, version: 'é'.repeat(1025) },
    { ...base, conversationId: 'c'.repeat(40_000), userId: 'u'.repeat(25_000) }
  ]
}

describe(`Send Log injection, property-based (seed ${SEED})`, () => {
  let loki: Loki
  let logCases: LogCase[] = []
  const logAnswers = new Map<number, IntegrationAnswer>()
  const describeLogCase = (c: LogCase): string => `log case #${c.index} (seed ${SEED}) input=${show(c.input, 600)}`
  const acceptedLog = () =>
    logCases.filter((c) => c.verdict.accepted && logAnswers.get(c.index)?.status === 200) as Array<
      LogCase & { verdict: Exclude<LogVerdict, Refusal> }
    >
  const timestampOf = (c: LogCase): string =>
    (logAnswers.get(c.index)!.body as { output: { timestamp: string } }).output.timestamp

  beforeAll(async () => {
    // Every stream a case can make is allowed: the limit on streams is not what is tested here.
    loki = await startLoki({ auth: { password: vm.password }, limits: { maxStreams: 1_000_000 } })
    const drafts = [...pinnedLogDrafts(), ...fc.sample(logDraftArb, { seed: SEED + 2, numRuns: LOG_RUNS })]
    logCases = drafts.map((d, i) => makeLogCase(d, i))
  })

  afterAll(async () => {
    await loki?.stop()
  })

  it(
    'every case: refused ones answer 400 with a message; accepted ones answer the oracle’s stream labels and metadata keys',
    async () => {
      const configuration = {
        grafanaUrl: `${vm.url}/influx/write`,
        grafanaUserId: USER_ID,
        apiKey: vm.password,
        logsUrl: loki.url,
        logsUserId: loki.username
      }
      await callAll(logCases, logAnswers, Date.now() + 300_000 * SCALE, (c) =>
        trigger(integration.url, configuration, 'sendLog', c.input, LOG_BOT)
      )
      expect(logAnswers.size).toBe(logCases.length)
      const failures: string[] = []
      for (const c of logCases) {
        const answer = logAnswers.get(c.index)!
        if (!c.verdict.accepted) {
          if (!isRefusalAnswer(answer, 'Send Log failed: ')) {
            failures.push(
              `${describeLogCase(c)}\n  oracle: refused (${c.verdict.why}); integration: ${answer.status} ${show(answer.text, 300)}`
            )
          }
          continue
        }
        const output = (
          answer.body as { output?: { streamLabels?: unknown; metadataKeys?: unknown; timestamp?: unknown } }
        )?.output
        if (
          answer.status !== 200 ||
          labelKey((output?.streamLabels ?? {}) as Record<string, string>) !== labelKey(c.verdict.stream) ||
          JSON.stringify(output?.metadataKeys) !== JSON.stringify(Object.keys(c.verdict.metadata).sort()) ||
          typeof output?.timestamp !== 'string' ||
          !/^\d{19}$/u.test(output.timestamp)
        ) {
          failures.push(
            `${describeLogCase(c)}\n  oracle: accepted with ${show(c.verdict.stream, 300)} ${show(Object.keys(c.verdict.metadata))}; integration: ${answer.status} ${show(answer.text, 300)}`
          )
        }
      }
      const count = logCases.filter((c) => c.verdict.accepted).length
      console.log(
        `[injection] ${logCases.length} Send Log cases: ${count} accepted, ${logCases.length - count} refused`
      )
      expect(
        failures.length,
        `${failures.length} disagreements with the oracle:\n${failures.slice(0, REPORT_LIMIT).join('\n')}`
      ).toBe(0)
      expect(count).toBeGreaterThan(logCases.length * 0.3)
      expect(logCases.length - count).toBeGreaterThan(logCases.length * 0.1)
    },
    360_000 * SCALE
  )

  it('the stand-in: one entry per accepted call at its time, with exactly the oracle’s stream labels, line and metadata; nothing else', () => {
    const byTimestamp = new Map(acceptedLog().map((c) => [timestampOf(c), c]))
    expect(byTimestamp.size).toBe(acceptedLog().length)
    const failures: string[] = []
    const seen = new Set<number>()
    const entries = loki.entries()
    for (const entry of entries) {
      const c = byTimestamp.get(entry.ts)
      if (c === undefined || seen.has(c.index)) {
        failures.push(`an entry no accepted case explains, or a second one: ${show(entry, 500)}`)
        continue
      }
      seen.add(c.index)
      const metadata = {
        ...Object.fromEntries(Object.entries(c.verdict.metadata).map(([k, v]) => [k, lokiMetadataValue(v)])),
        detected_level: DETECTED_LEVEL[c.verdict.level]!
      }
      if (
        labelKey(entry.labels) !== labelKey(c.verdict.stream) ||
        entry.line !== c.verdict.line ||
        labelKey(entry.metadata) !== labelKey(metadata)
      ) {
        failures.push(
          `${describeLogCase(c)}\n  stored ${show(entry, 500)}\n  expected ${show({ labels: c.verdict.stream, line: c.verdict.line, metadata }, 500)}`
        )
      }
    }
    const counts = loki.counts()
    console.log(
      `[injection] Loki stand-in: ${entries.length} entries in ${counts.streams} streams for ${acceptedLog().length} accepted Send Log calls; ${loki.requests.length} pushes`
    )
    expect(
      failures.length,
      `${failures.length} stand-in disagreements:\n${failures.slice(0, REPORT_LIMIT).join('\n')}`
    ).toBe(0)
    expect(seen.size).toBe(byTimestamp.size)
    expect(counts.stored).toBe(byTimestamp.size)
    expect(counts.duplicatesMerged).toBe(0)
    // One push per accepted call, each stored whole; none for a refused call.
    expect(loki.requests.filter((r) => r.path === '/loki/api/v1/push' && r.status === 204)).toHaveLength(
      byTimestamp.size
    )
    expect(loki.requests).toHaveLength(byTimestamp.size)
  })

  it('the API key appears in no answer and nowhere in the integration’s output', () => {
    const windows = Array.from({ length: vm.password.length - 11 }, (_, i) => vm.password.slice(i, i + 12))
    const texts = [...[...logAnswers.values()].map((a) => a.text), integration.output()]
    expect(texts.filter((t) => windows.some((w) => t.includes(w))).map((t) => t.slice(0, 200))).toEqual([])
    expect(integration.output()).toContain('Send Log failed')
  })
})
