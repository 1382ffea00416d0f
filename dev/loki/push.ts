/**
 * The write path in front of the store, as Loki 3.4's `/loki/api/v1/push` handler and distributor
 * run it (pkg/loghttp/push/push.go, pkg/loghttp/query.go, pkg/distributor/{distributor,validator}.go).
 *
 * Decoding refuses the whole request (400) at the first fault: an unreadable body, a timestamp
 * that is not a string of an int64, a line or label that fails jsonparser's unescaping (a lone
 * surrogate), a structured-metadata value that is not a string, a label name the metric parser
 * refuses (`couldn't parse labels: …`). Then `service_name` is added to every stream that lacks
 * one (from the first non-empty label of Loki's `discover_service_name` list, else
 * `unknown_service`).
 *
 * Validation then works per stream and per entry, and keeps the rest: a stream with too many
 * label names or a too long label name or value loses all its entries; an entry too old, too
 * new, too long or with too much structured metadata is dropped alone. Each refusal is one line
 * of the 400 that follows the write of everything else. Kept entries get their structured
 * metadata names sanitised (`conv-id` → `conv_id`), U+FFFD in values turned into spaces, and a
 * `detected_level`.
 */
import { gunzipSync, inflateRawSync } from 'node:zlib'
import { goQuote, rfc3339 } from './go'
import { JSON_ERRORS, JsonError, parseJsonInt, rawText, readJson, unescape, type JsonNode } from './json'
import { labelsString, LabelParseError, parsePushedLabels, sortLabels, type Labels } from './labels'
import { detectLevel } from './level'

export interface PushEntry {
  readonly ts: bigint
  readonly line: string
  /** As pushed: names not yet sanitised, in body order. */
  readonly metadata: ReadonlyArray<readonly [string, string]>
}

/** A decoded stream: labels sorted, empty values dropped, `service_name` added. */
export interface PushStream {
  readonly labels: Labels
  readonly entries: readonly PushEntry[]
}

export interface AcceptedEntry {
  readonly ts: bigint
  readonly line: string
  /** Sanitised, sorted, `detected_level` included. */
  readonly metadata: Labels
}

export interface AcceptedStream {
  readonly labels: Labels
  readonly key: string
  readonly entries: readonly AcceptedEntry[]
}

export interface PushLimits {
  readonly maxLineSize: number
  readonly maxLabelNamesPerSeries: number
  readonly maxLabelNameLength: number
  readonly maxLabelValueLength: number
  readonly maxStructuredMetadataSize: number
  readonly maxStructuredMetadataEntries: number
  /** 0 accepts lines of any age. */
  readonly rejectOldSamplesMaxAgeMs: number
  readonly creationGracePeriodMs: number
  readonly discoverLogLevels: boolean
}

export class PushError extends Error {
  public constructor(
    public readonly status: number,
    message: string
  ) {
    super(message)
  }
}

const SERVICE_NAME = 'service_name'
const UNKNOWN_SERVICE = 'unknown_service'
/** Loki's default `discover_service_name`, in priority order. */
const SERVICE_NAME_SOURCES = [
  'service',
  'app',
  'application',
  'app_name',
  'name',
  'app_kubernetes_io_name',
  'container',
  'container_name',
  'k8s_container_name',
  'component',
  'workload',
  'job',
  'k8s_job_name'
]
const DETECTED_LEVEL = 'detected_level'

const NS_PER_MS = 1_000_000n
const STREAM_DECODER = 'loghttp.PushRequest.Streams: []loghttp.LogProtoStream: unmarshalerDecoder'

/** The body as Loki reads it: decompressed, and JSON only when the content type says so. */
const bodyText = (body: Buffer, contentType: string | undefined, contentEncoding: string | undefined): string => {
  let plain = body
  const encoding = contentEncoding ?? ''
  if (encoding === 'gzip') {
    try {
      plain = gunzipSync(body)
    } catch {
      throw new PushError(400, 'gzip: invalid header')
    }
  } else if (encoding === 'deflate') {
    try {
      plain = inflateRawSync(body)
    } catch {
      throw new PushError(400, 'flate: corrupt input before offset 0')
    }
  } else if (encoding !== '' && encoding !== 'snappy') {
    throw new PushError(400, `Content-Encoding ${goQuote(encoding)} not supported`)
  }
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (mediaType === '') {
    throw new PushError(400, 'mime: no media type')
  }
  if (!/^[^/\s]+\/[^/\s]+$/u.test(mediaType)) {
    throw new PushError(400, 'mime: expected slash after first token')
  }
  if (mediaType !== 'application/json') {
    // Any other type is read as snappy-compressed protobuf, which a JSON body never is.
    throw new PushError(400, 'snappy: corrupt input')
  }
  return plain.toString('utf8')
}

const decodeError = (message: string): PushError => new PushError(400, `${STREAM_DECODER}: ${message}`)

const decodeEntry = (text: string, node: JsonNode): PushEntry => {
  if (node.kind !== 'array') {
    throw decodeError(JSON_ERRORS.malformedArray)
  }
  const [tsNode, lineNode, metadataNode] = node.items
  if (tsNode !== undefined && tsNode.kind !== 'string') {
    throw decodeError(JSON_ERRORS.malformedString)
  }
  if (lineNode !== undefined && lineNode.kind !== 'string') {
    throw decodeError(JSON_ERRORS.malformedString)
  }
  if (metadataNode !== undefined && metadataNode.kind !== 'object') {
    throw decodeError(JSON_ERRORS.malformedObject)
  }
  const metadata = (metadataNode?.kind === 'object' ? metadataNode.members : []).map(({ key, value }) => {
    if (value.kind !== 'string') {
      throw decodeError(JSON_ERRORS.malformedString)
    }
    // Loki keeps a metadata name as written, escapes and all; only the value is unescaped.
    return [rawText(text, key), unescape(rawText(text, value))] as const
  })
  return {
    ts: tsNode === undefined ? 0n : parseJsonInt(rawText(text, tsNode)),
    line: lineNode === undefined ? '' : unescape(rawText(text, lineNode)),
    metadata
  }
}

const decodeStream = (text: string, node: JsonNode): { labels: Map<string, string>; entries: PushEntry[] } => {
  const labels = new Map<string, string>()
  const entries: PushEntry[] = []
  if (node.kind === 'null') {
    return { labels, entries }
  }
  if (node.kind !== 'object') {
    throw decodeError(JSON_ERRORS.malformedObject)
  }
  for (const { key, value } of node.members) {
    const name = rawText(text, key)
    if (name === 'stream') {
      if (value.kind !== 'object') {
        throw decodeError(JSON_ERRORS.malformedObject)
      }
      labels.clear()
      // Loki reads a label value of any JSON type as the text it is written with.
      for (const label of value.members) {
        labels.set(unescape(rawText(text, label.key)), unescape(rawText(text, label.value)))
      }
    } else if (name === 'values' && value.kind !== 'null') {
      if (value.kind !== 'array') {
        throw decodeError(JSON_ERRORS.malformedArray)
      }
      entries.length = 0
      for (const item of value.items) {
        if (item.kind !== 'null') {
          entries.push(decodeEntry(text, item))
        }
      }
    }
  }
  return { labels, entries }
}

const withServiceName = (labels: Labels): Labels => {
  if (labels.some(([name]) => name === SERVICE_NAME)) {
    return labels
  }
  const source = SERVICE_NAME_SOURCES.map((name) => labels.find(([n]) => n === name)?.[1]).find((v) => v)
  return sortLabels([...labels, [SERVICE_NAME, source ?? UNKNOWN_SERVICE]])
}

/** One stream's labels read as Loki reads them (PushError 400 on a bad name), `service_name` added. */
export const pushStream = (labels: ReadonlyMap<string, string>, entries: readonly PushEntry[]): PushStream => {
  try {
    return { labels: withServiceName(parsePushedLabels(labels)), entries }
  } catch (error) {
    if (error instanceof LabelParseError) {
      throw new PushError(400, `couldn't parse labels: ${error.message}`)
    }
    throw error
  }
}

/** A push body as Loki decodes it, or a PushError refusing the whole request. */
export const decodePush = (
  body: Buffer,
  contentType: string | undefined,
  contentEncoding: string | undefined
): PushStream[] => {
  const text = bodyText(body, contentType, contentEncoding)
  let decoded: Array<{ labels: Map<string, string>; entries: PushEntry[] }> = []
  try {
    const root = readJson(text)
    if (root.kind !== 'object') {
      throw new PushError(400, `loghttp.PushRequest: ${JSON_ERRORS.malformedJson}`)
    }
    for (const { key, value } of root.members) {
      // jsoniter matches struct fields without regard to case.
      if (rawText(text, key).toLowerCase() !== 'streams') {
        continue
      }
      if (value.kind === 'null') {
        decoded = []
      } else if (value.kind !== 'array') {
        throw new PushError(400, `loghttp.PushRequest.Streams: ${JSON_ERRORS.malformedArray}`)
      } else {
        decoded = value.items.map((item) => decodeStream(text, item))
      }
    }
  } catch (error) {
    if (error instanceof JsonError) {
      throw decodeError(error.message)
    }
    throw error
  }
  return decoded.map(({ labels, entries }) => pushStream(labels, entries))
}

const byteLength = (text: string): number => Buffer.byteLength(text, 'utf8')

const labelsError = (labels: Labels, limits: PushLimits): string | undefined => {
  const written = labelsString(labels)
  // Measured: the limit counts the `service_name` Loki adds (Loki's code would skip it).
  const counted = labels.length
  if (counted > limits.maxLabelNamesPerSeries) {
    return `entry for stream '${written}' has ${counted} label names; limit ${limits.maxLabelNamesPerSeries}`
  }
  for (const [name, value] of labels) {
    if (byteLength(name) > limits.maxLabelNameLength) {
      return `stream '${written}' has label name too long: '${name}'`
    }
    if (byteLength(value) > limits.maxLabelValueLength) {
      return `stream '${written}' has label value too long: '${value}'`
    }
  }
  return undefined
}

const metadataSize = (metadata: ReadonlyArray<readonly [string, string]>): number =>
  metadata.reduce((sum, [name, value]) => sum + byteLength(name) + byteLength(value), 0)

export interface Clock {
  /** Nanoseconds since the epoch; undefined skips the checks against the wall clock (a bulk load). */
  readonly now: bigint | undefined
}

const entryError = (entry: PushEntry, written: string, limits: PushLimits, clock: Clock): string | undefined => {
  if (clock.now !== undefined) {
    const oldest = clock.now - BigInt(limits.rejectOldSamplesMaxAgeMs) * NS_PER_MS
    if (limits.rejectOldSamplesMaxAgeMs > 0 && entry.ts < oldest) {
      return `entry for stream '${written}' has timestamp too old: ${rfc3339(entry.ts)}, oldest acceptable timestamp is: ${rfc3339(oldest)}`
    }
    if (entry.ts > clock.now + BigInt(limits.creationGracePeriodMs) * NS_PER_MS) {
      return `entry for stream '${written}' has timestamp too new: ${rfc3339(entry.ts)}`
    }
  }
  const lineSize = byteLength(entry.line)
  if (limits.maxLineSize > 0 && lineSize > limits.maxLineSize) {
    return `Max entry size '${limits.maxLineSize}' bytes exceeded for stream '${written}' while adding an entry with length '${lineSize}' bytes`
  }
  const size = metadataSize(entry.metadata)
  if (limits.maxStructuredMetadataSize > 0 && size > limits.maxStructuredMetadataSize) {
    return `stream '${written}' has structured metadata too large: '${size}' bytes, limit: '${limits.maxStructuredMetadataSize}' bytes. Please see \`limits_config.max_structured_metadata_size\` or contact your Loki administrator to increase it.`
  }
  const count = entry.metadata.length
  if (limits.maxStructuredMetadataEntries > 0 && count > limits.maxStructuredMetadataEntries) {
    return `stream '${written}' has too many structured metadata labels: '${count}', limit: '${limits.maxStructuredMetadataEntries}'. Please see \`limits_config.max_structured_metadata_entries_count\` or contact your Loki administrator to increase it.`
  }
  return undefined
}

/**
 * Prometheus' OTLP label normaliser, as Loki 3.4 applies it to structured-metadata names: every
 * character but a letter or digit becomes `_`; `key_` before a leading digit, `key` before a
 * single leading underscore.
 */
export const sanitiseMetadataName = (name: string): string => {
  if (name === '') {
    return name
  }
  const mapped = name.replace(/[^\p{L}\p{Nd}]/gu, '_')
  if (/^[0-9]/u.test(mapped)) {
    return `key_${mapped}`
  }
  return mapped.startsWith('_') && !mapped.startsWith('__') ? `key${mapped}` : mapped
}

const normaliseEntry = (entry: PushEntry, labels: Labels, limits: PushLimits): AcceptedEntry => {
  const metadata = new Map<string, string>()
  for (const [name, value] of entry.metadata) {
    metadata.set(sanitiseMetadataName(name), value.replaceAll('\ufffd', ' '))
  }
  const level = limits.discoverLogLevels ? detectLevel(labels, metadata, entry.line) : undefined
  if (level !== undefined) {
    metadata.set(DETECTED_LEVEL, level)
  }
  return { ts: entry.ts, line: entry.line, metadata: sortLabels(metadata) }
}

export interface Validated {
  readonly streams: AcceptedStream[]
  /** One line per refused stream or entry, as the 400 reports them. */
  readonly errors: string[]
  /** Lines and bytes (line plus structured metadata) kept, for the ingestion rate limit. */
  readonly lines: number
  readonly bytes: number
}

/** The distributor's checks on decoded streams: what goes on to the store, and what was refused. */
export const validatePush = (streams: readonly PushStream[], limits: PushLimits, clock: Clock): Validated => {
  const accepted: AcceptedStream[] = []
  const errors: string[] = []
  let lines = 0
  let bytes = 0
  for (const stream of streams) {
    if (stream.entries.length === 0) {
      continue
    }
    const refused = labelsError(stream.labels, limits)
    if (refused !== undefined) {
      errors.push(refused)
      continue
    }
    const key = labelsString(stream.labels)
    const entries: AcceptedEntry[] = []
    for (const entry of stream.entries) {
      const error = entryError(entry, key, limits, clock)
      if (error !== undefined) {
        errors.push(error)
        continue
      }
      const kept = normaliseEntry(entry, stream.labels, limits)
      entries.push(kept)
      lines++
      bytes += byteLength(kept.line) + metadataSize(kept.metadata)
    }
    if (entries.length > 0) {
      accepted.push({ labels: stream.labels, key, entries })
    }
  }
  return { streams: accepted, errors, lines, bytes }
}

/** Loki's `GroupedErrors`: identical refusals counted, `N errors like: …` when more than one. */
export const groupErrors = (errors: readonly string[]): string => {
  const counts = new Map<string, number>()
  for (const error of errors) {
    counts.set(error, (counts.get(error) ?? 0) + 1)
  }
  return [...counts].map(([error, n]) => (counts.size > 1 || n > 1 ? `${n} errors like: ${error}` : error)).join('; ')
}
