/**
 * `GET /loki/api/v1/query_range` for log queries, as Loki 3.4 parses its parameters
 * (pkg/loghttp/params.go), checks its limits (pkg/querier/queryrange) and answers
 * (pkg/logql/engine.go readStreams, pkg/querier/queryrange/codec.go, pkg/util/marshal).
 *
 *  - `start` inclusive, `end` exclusive: nanoseconds, seconds (10 digits or fewer), seconds with
 *    a fraction (rounded to the millisecond) or RFC 3339; `end` defaults to now, `start` to
 *    `since` (default 1 h) before it.
 *  - `limit` (default 100) entries at most, cut exactly there, even inside a group of one
 *    nanosecond: the next page starts at that nanosecond again and skips what it has read.
 *  - Order: by timestamp (`direction` backward by default, newest first). At one nanosecond,
 *    entries of one stream come in the order they were written (reversed for backward); two
 *    streams are ordered by their label set (Loki orders them by a hash of it, which a client
 *    cannot rely on either), descending for backward, so backward is forward reversed.
 *  - Result streams sorted by their label set, descending for backward. Structured metadata is
 *    merged into `stream` (a name also used by a stream label gets `_extracted`), so one result
 *    per distinct metadata set; with `X-Loki-Response-Encoding-Flags: categorize-labels`,
 *    `stream` holds the indexed labels and each value a third element
 *    `{"structuredMetadata": {…}}`.
 */
import { goDuration, goParseInt, goParseIntError, parsePromDuration, promDuration } from './go'
import { jsonString } from './json'
import { labelsString, labelValue, sortLabels, type Labels } from './labels'
import { LogqlError, parseLogQuery, type LogQuery } from './logql'
import type { LogStore, StoredStream } from './store'

export interface QueryLimits {
  readonly maxEntriesLimitPerQuery: number
  /** 0 for no limit. */
  readonly maxQueryLengthMs: number
}

export interface QueryAnswer {
  readonly status: number
  readonly body: string
  readonly contentType: string
}

const NS_PER_S = 1_000_000_000n
const NS_PER_MS = 1_000_000n
const DEFAULT_LIMIT = 100n
const DEFAULT_SINCE_MS = 3_600_000
const MAX_POINTS = 11_000n
const CATEGORIZE_LABELS = 'categorize-labels'

class BadRequest extends Error {}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/u
const GO_FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/u

const parseRfc3339 = (text: string): bigint | undefined => {
  const m = RFC3339.exec(text)
  if (m === null) {
    return undefined
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as number[]
  const ms = Date.UTC(year as number, (month as number) - 1, day, hour, minute, second)
  const date = new Date(ms)
  if (date.getUTCDate() !== day || (hour as number) > 23 || (minute as number) > 59 || (second as number) > 59) {
    return undefined
  }
  const fraction = BigInt((m[7] ?? '').slice(0, 9).padEnd(9, '0'))
  const offsetMinutes = m[8] === undefined ? (Number(m[10]) * 60 + Number(m[11])) * (m[9] === '-' ? -1 : 1) : 0
  return (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * NS_PER_MS + fraction
}

/** Loki's `parseTimestamp`: nanoseconds, seconds, fractional seconds or RFC 3339. */
const parseTimestamp = (name: string, text: string | null, fallback: bigint): bigint => {
  if (text === null || text === '') {
    return fallback
  }
  if (text.includes('.') && GO_FLOAT.test(text)) {
    const value = Number(text)
    const seconds = Math.trunc(value)
    const fraction = Math.round((value - seconds) * 1000) / 1000
    return BigInt(seconds) * NS_PER_S + BigInt(Math.trunc(fraction * 1e9))
  }
  const integer = goParseInt(text)
  if (integer === undefined) {
    const rfc = parseRfc3339(text)
    if (rfc !== undefined) {
      return rfc
    }
    throw new BadRequest(`could not parse '${name}' parameter: ${goParseIntError('ParseInt', text)}`)
  }
  return text.length <= 10 ? integer * NS_PER_S : integer
}

/** `parseSecondsOrDuration`: a float number of seconds or a Prometheus duration, in ns. */
const parseSecondsOrDuration = (text: string): bigint => {
  if (GO_FLOAT.test(text)) {
    return BigInt(Math.trunc(Number(text) * 1e9))
  }
  const ms = parsePromDuration(text)
  if (ms === undefined) {
    throw new BadRequest(`cannot parse "${text}" to a valid duration`)
  }
  return BigInt(ms) * NS_PER_MS
}

interface RangeParams {
  readonly query: string
  readonly start: bigint
  readonly end: bigint
  readonly limit: number
  readonly forward: boolean
  readonly intervalNs: bigint
}

const parseParams = (form: URLSearchParams, now: bigint): RangeParams => {
  const since = form.get('since')
  let sinceMs = DEFAULT_SINCE_MS
  if (since !== null && since !== '') {
    const parsed = parsePromDuration(since)
    if (parsed === undefined) {
      throw new BadRequest(`could not parse 'since' parameter: not a valid duration string: ${JSON.stringify(since)}`)
    }
    sinceMs = parsed
  }
  const end = parseTimestamp('end', form.get('end'), now)
  const start = parseTimestamp('start', form.get('start'), (end > now ? now : end) - BigInt(sinceMs) * NS_PER_MS)
  if (end < start) {
    throw new BadRequest('end timestamp must not be before or equal to start time')
  }
  const limitText = form.get('limit') ?? ''
  const limit = limitText === '' ? DEFAULT_LIMIT : goParseInt(limitText)
  if (limit === undefined) {
    throw new BadRequest(goParseIntError('Atoi', limitText))
  }
  if (limit <= 0n) {
    throw new BadRequest('limit must be a positive value')
  }
  const direction = form.get('direction') ?? ''
  if (direction !== '' && !['FORWARD', 'BACKWARD'].includes(direction.toUpperCase())) {
    throw new BadRequest(`invalid direction '${direction}'`)
  }
  const stepText = form.get('step') ?? ''
  const rangeNs = end - start
  const defaultStepS = rangeNs / NS_PER_S / 250n
  const step = stepText === '' ? (defaultStepS > 1n ? defaultStepS : 1n) * NS_PER_S : parseSecondsOrDuration(stepText)
  if (step <= 0n) {
    throw new BadRequest('zero or negative query resolution step widths are not accepted. Try a positive integer')
  }
  if (rangeNs / step > MAX_POINTS) {
    throw new BadRequest(
      'exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter'
    )
  }
  const intervalText = form.get('interval') ?? ''
  const intervalNs = intervalText === '' ? 0n : parseSecondsOrDuration(intervalText)
  if (intervalNs < 0n) {
    throw new BadRequest('interval must be >= 0')
  }
  return {
    query: form.get('query') ?? '',
    start,
    end,
    // Loki keeps the limit as a uint32.
    limit: Number(BigInt.asUintN(32, limit)),
    forward: direction.toUpperCase() === 'FORWARD',
    intervalNs
  }
}

/** What a query sees of an entry's labels: the stream's plus its structured metadata. */
interface EntryLabels {
  readonly all: ReadonlyMap<string, string>
  readonly sorted: Labels
  readonly metadata: Labels
  readonly key: string
}

const entryLabels = (stream: StoredStream, metadata: Labels): EntryLabels => {
  const all = new Map(stream.labels)
  const renamed: Array<readonly [string, string]> = metadata.map(([name, value]) => [
    stream.labels.some(([n]) => n === name) ? `${name}_extracted` : name,
    value
  ])
  for (const [name, value] of renamed) {
    all.set(name, value)
  }
  const sorted = sortLabels(all)
  return { all, sorted, metadata: sortLabels(renamed), key: labelsString(sorted) }
}

interface Cursor {
  readonly stream: StoredStream
  index: number
  readonly stop: number
}

interface Selected {
  readonly stream: StoredStream
  readonly ts: bigint
  readonly line: string
  readonly labels: EntryLabels
}

const passes = (query: LogQuery, line: string, labels: EntryLabels): boolean =>
  query.stages.every((stage) =>
    stage.kind === 'line' ? stage.test(line) : stage.matcher.matches(labels.all.get(stage.matcher.name) ?? '')
  )

interface Scan {
  readonly entries: Selected[]
  readonly linesProcessed: number
  readonly bytesProcessed: number
}

/** The first `limit` entries in query order, as readStreams collects them. */
const scan = (store: LogStore, query: LogQuery, params: RangeParams): Scan => {
  const cursors: Cursor[] = []
  for (const stream of store.streams()) {
    if (!query.matchers.every((m) => m.matches(labelValue(stream.labels, m.name)))) {
      continue
    }
    const lo = stream.search(params.start)
    const hi = stream.search(params.end)
    if (lo < hi) {
      cursors.push(params.forward ? { stream, index: lo, stop: hi } : { stream, index: hi - 1, stop: lo - 1 })
    }
  }
  const views = new Map<StoredStream, Map<number, EntryLabels>>()
  const viewOf = (stream: StoredStream, id: number): EntryLabels => {
    let byId = views.get(stream)
    if (byId === undefined) {
      byId = new Map()
      views.set(stream, byId)
    }
    let view = byId.get(id)
    if (view === undefined) {
      view = entryLabels(stream, store.metadata(id))
      byId.set(id, view)
    }
    return view
  }
  const before = (a: Cursor, b: Cursor): boolean => {
    const ta = a.stream.tsAt(a.index)
    const tb = b.stream.tsAt(b.index)
    if (ta !== tb) {
      return params.forward ? ta < tb : ta > tb
    }
    return params.forward ? a.stream.key < b.stream.key : a.stream.key > b.stream.key
  }
  const entries: Selected[] = []
  let linesProcessed = 0
  let bytesProcessed = 0
  let last: bigint | undefined
  while (entries.length < params.limit && cursors.length > 0) {
    let best = 0
    for (let i = 1; i < cursors.length; i++) {
      if (before(cursors[i] as Cursor, cursors[best] as Cursor)) {
        best = i
      }
    }
    const cursor = cursors[best] as Cursor
    const ts = cursor.stream.tsAt(cursor.index)
    const line = cursor.stream.lineAt(cursor.index)
    const labels = viewOf(cursor.stream, cursor.stream.metadataIdAt(cursor.index))
    cursor.index += params.forward ? 1 : -1
    if (cursor.index === cursor.stop) {
      cursors.splice(best, 1)
    }
    linesProcessed++
    bytesProcessed += Buffer.byteLength(line)
    if (!passes(query, line, labels)) {
      continue
    }
    const spaced =
      params.intervalNs === 0n ||
      last === undefined ||
      (params.forward ? ts >= last + params.intervalNs : ts <= last - params.intervalNs)
    if (spaced) {
      entries.push({ stream: cursor.stream, ts, line, labels })
      last = ts
    }
  }
  return { entries, linesProcessed, bytesProcessed }
}

const labelsObject = (labels: Labels): string =>
  `{${labels.map(([name, value]) => `${jsonString(name, false)}:${jsonString(value, false)}`).join(',')}}`

const zeroes = (names: readonly string[]): string => names.map((name) => `"${name}":0`).join(',')

const CHUNK_FIELDS = [
  'headChunkBytes',
  'headChunkLines',
  'decompressedBytes',
  'decompressedLines',
  'compressedBytes',
  'totalDuplicates',
  'postFilterLines',
  'headChunkStructuredMetadataBytes',
  'decompressedStructuredMetadataBytes'
]
const STORE_STATS = `{${zeroes(['totalChunksRef', 'totalChunksDownloaded', 'chunksDownloadTime'])},"queryReferencedStructuredMetadata":false,"chunk":{${zeroes(CHUNK_FIELDS)}},${zeroes(['chunkRefsFetchTime', 'congestionControlLatency', 'pipelineWrapperFilteredLines'])}}`
const CACHE_STATS = `{${zeroes(['entriesFound', 'entriesRequested', 'entriesStored', 'bytesReceived', 'bytesSent', 'requests', 'downloadTime', 'queryLengthServed'])}}`
const CACHES = [
  'chunk',
  'index',
  'result',
  'statsResult',
  'volumeResult',
  'seriesResult',
  'labelResult',
  'instantMetricResult'
]

/** Loki's `stats.Result`: the summary counts what this query did; the rest has no meaning here. */
const statsJson = (result: Scan, execSeconds: number): string => {
  const summary = {
    bytesProcessedPerSecond: execSeconds > 0 ? Math.round(result.bytesProcessed / execSeconds) : 0,
    linesProcessedPerSecond: execSeconds > 0 ? Math.round(result.linesProcessed / execSeconds) : 0,
    totalBytesProcessed: result.bytesProcessed,
    totalLinesProcessed: result.linesProcessed,
    execTime: execSeconds,
    queueTime: 0,
    subqueries: 0,
    totalEntriesReturned: result.entries.length,
    splits: 0,
    shards: 0,
    totalPostFilterLines: result.entries.length,
    totalStructuredMetadataBytesProcessed: 0
  }
  return (
    `{"summary":${JSON.stringify(summary)},"querier":{"store":${STORE_STATS}},` +
    `"ingester":{${zeroes(['totalReached', 'totalChunksMatched', 'totalBatches', 'totalLinesSent'])},"store":${STORE_STATS}},` +
    `"cache":{${CACHES.map((name) => `"${name}":${CACHE_STATS}`).join(',')}},` +
    `"index":{${zeroes(['totalChunks', 'postFilterChunks', 'shardsDuration'])},"usedBloomFilters":false}}`
  )
}

const encodeResult = (result: Scan, flags: readonly string[], forward: boolean, execSeconds: number): string => {
  const categorize = flags.includes(CATEGORIZE_LABELS)
  const groups = new Map<string, { labels: Labels; values: string[] }>()
  for (const { stream, ts, line, labels } of result.entries) {
    // Categorised, a result stream is the stored stream: its labels without the metadata.
    const key = categorize ? stream.key : labels.key
    let group = groups.get(key)
    if (group === undefined) {
      group = { labels: categorize ? stream.labels : labels.sorted, values: [] }
      groups.set(key, group)
    }
    const third = categorize
      ? `,${labels.metadata.length > 0 ? `{"structuredMetadata":${labelsObject(labels.metadata)}}` : '{}'}`
      : ''
    group.values.push(`["${ts}",${jsonString(line, true)}${third}]`)
  }
  const keys = [...groups.keys()].sort()
  if (!forward) {
    keys.reverse()
  }
  const streams = keys.map((key) => {
    const group = groups.get(key) as { labels: Labels; values: string[] }
    return `{"stream":${labelsObject(group.labels)},"values":[${group.values.join(',')}]}`
  })
  // Loki echoes every flag it was sent, known or not.
  const echoed = flags.length > 0 ? `,"encodingFlags":[${flags.map((flag) => jsonString(flag, false)).join(',')}]` : ''
  return `{"status":"success","data":{"resultType":"streams"${echoed},"result":[${streams.join(',')}],"stats":${statsJson(result, execSeconds)}}}`
}

const TEXT = 'text/plain; charset=utf-8'

/** Answers one query_range request against `store`. */
export const queryRange = (
  store: LogStore,
  form: URLSearchParams,
  encodingFlags: string | undefined,
  limits: QueryLimits,
  now: bigint
): QueryAnswer => {
  const began = process.hrtime.bigint()
  try {
    const params = parseParams(form, now)
    const query = parseLogQuery(params.query)
    if (params.limit > limits.maxEntriesLimitPerQuery && limits.maxEntriesLimitPerQuery !== 0) {
      throw new BadRequest(
        `max entries limit per query exceeded, limit > max_entries_limit_per_query (${params.limit} > ${limits.maxEntriesLimitPerQuery})`
      )
    }
    const lengthMs = params.end / NS_PER_MS - params.start / NS_PER_MS
    if (limits.maxQueryLengthMs > 0 && lengthMs > BigInt(limits.maxQueryLengthMs)) {
      throw new BadRequest(
        `the query time range exceeds the limit (query length: ${goDuration(lengthMs * NS_PER_MS)}, limit: ${promDuration(limits.maxQueryLengthMs)})`
      )
    }
    const flags = encodingFlags === undefined || encodingFlags === '' ? [] : [...new Set(encodingFlags.split(','))]
    const result = scan(store, query, params)
    const execSeconds = Number(process.hrtime.bigint() - began) / 1e9
    return {
      status: 200,
      body: encodeResult(result, flags, params.forward, execSeconds),
      contentType: 'application/json; charset=UTF-8'
    }
  } catch (error) {
    if (error instanceof BadRequest) {
      return { status: 400, body: error.message, contentType: TEXT }
    }
    if (error instanceof LogqlError) {
      return { status: error.status, body: error.message, contentType: TEXT }
    }
    throw error
  }
}
