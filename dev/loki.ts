/**
 * A Loki stand-in for the tests, the benchmarks and the demo: an in-process node:http server on
 * 127.0.0.1 (a port the kernel picks) answering `POST /loki/api/v1/push`,
 * `GET|POST /loki/api/v1/query_range` and `/ready` as Grafana Cloud Logs does. No Loki is
 * installable here, so this is the server the suites meet; the shared grafana-loki.md is its
 * contract, one test per row in test/loki-stand-in.test.ts.
 *
 * Reference: the Loki the contract was measured on, 3.4.6 with 3.6's fix to JSON structured
 * metadata (values unescaped). Where the contract is silent, that release's code decides:
 *  - push (./loki/push.ts): a bad label name refuses the whole request, but too many label names
 *    (counting the `service_name` it adds, as measured), a too long label, and too old,
 *    too new or too long entries refuse only their stream or entry: the rest is written and the
 *    400 lists the refusals;
 *  - store (./loki/store.ts): duplicates, the 1-hour out-of-order window, the stream limit;
 *  - query (./loki/query.ts): parameters, limits, order at one nanosecond, result encoding;
 *  - `detected_level` (./loki/level.ts) and metadata-name sanitising as Loki 3.4 does them.
 * One row overrides the code: an empty line is answered 204 and never shown (the code would keep
 * it beside its `detected_level`; the measurement did not).
 *
 * In front, Grafana Cloud's gateway: Basic auth with the logs user ID (the tenant) and a token,
 * 401 without or with wrong credentials, before Loki sees the request. Without auth the tenant is
 * Loki's `fake`. The token is never logged nor kept in the request records.
 *
 * Not reproduced: snappy protobuf pushes (refused as Loki refuses a corrupt one), LogQL beyond
 * selectors, line filters and string label filters (501), metric queries (501), retention,
 * streams becoming inactive, the position context jsoniter adds to decoding errors. A body that
 * is not UTF-8 is read with U+FFFD where Loki would keep the raw bytes.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Labels } from './loki/labels'
import {
  decodePush,
  groupErrors,
  pushStream,
  PushError,
  validatePush,
  type PushLimits,
  type PushStream
} from './loki/push'
import { queryRange, type QueryLimits } from './loki/query'
import { TokenBucket, type IngestionRate } from './loki/rate-limit'
import { LogStore, type StoreCounts } from './loki/store'

export type { StoreCounts } from './loki/store'
export type { IngestionRate } from './loki/rate-limit'

export interface LokiLimits extends PushLimits, QueryLimits {
  /** Streams a tenant may create (`max_global_streams_per_user`; Grafana Cloud: 5,000 per stack). */
  readonly maxStreams: number
  /** How far behind its stream's newest entry an entry may be (half of `max_chunk_age`). */
  readonly outOfOrderWindowMs: number
}

/** Loki 3.4's defaults, which are also Grafana Cloud's documented limits. */
export const LOKI_DEFAULT_LIMITS: LokiLimits = {
  maxLineSize: 256 * 1024,
  maxLabelNamesPerSeries: 15,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 2048,
  maxStructuredMetadataSize: 64 * 1024,
  maxStructuredMetadataEntries: 128,
  rejectOldSamplesMaxAgeMs: 7 * 24 * 3600 * 1000,
  creationGracePeriodMs: 10 * 60 * 1000,
  discoverLogLevels: true,
  maxStreams: 5000,
  outOfOrderWindowMs: 3600 * 1000,
  maxEntriesLimitPerQuery: 5000,
  maxQueryLengthMs: 721 * 3600 * 1000
}

export interface LokiOptions {
  /** Default: a random numeric user ID and token, as Grafana Cloud issues them. false: no gateway. */
  readonly auth?: false | { readonly username?: string; readonly password?: string }
  readonly limits?: Partial<LokiLimits>
  /** The tenant's ingestion rate limit (429 past it); default none. */
  readonly ingestionRate?: IngestionRate
}

/** One request as it reached the stand-in; no credentials. */
export interface LokiRequest {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly status: number
  readonly contentType: string | undefined
  readonly contentEncoding: string | undefined
  readonly bodyBytes: number
}

/** A stream for `load`, in the shape of a push body's streams (timestamps as ns strings or bigints). */
export interface LoadStream {
  readonly stream: Readonly<Record<string, string>>
  readonly values: ReadonlyArray<readonly [string | bigint, string, Readonly<Record<string, string>>?]>
}

/** A stored entry, for inspection. */
export interface LokiEntry {
  readonly labels: Record<string, string>
  /** Nanoseconds since the epoch. */
  readonly ts: string
  readonly line: string
  readonly metadata: Record<string, string>
}

export interface Loki {
  readonly url: string
  readonly port: number
  /** The tenant: the user ID with auth, `fake` without. */
  readonly tenant: string
  /** Empty strings without auth. */
  readonly username: string
  readonly password: string
  /** `Basic …` header value, or undefined without auth. */
  readonly authorization: string | undefined
  /**
   * Writes streams as a push would, without HTTP and without the checks against the wall clock
   * (history for export tests and benchmarks); throws with Loki's message on any refusal.
   */
  load(streams: readonly LoadStream[]): void
  /** Every stream: its labels (with `service_name`) and how many entries it shows. */
  streams(): Array<{ labels: Record<string, string>; entries: number }>
  /** Stored entries of the streams whose labels include `match`, stream by stream, in time order. */
  entries(match?: Readonly<Record<string, string>>): LokiEntry[]
  counts(): StoreCounts
  readonly requests: readonly LokiRequest[]
  /** Forgets every stream, entry, count and request record. */
  reset(): void
  stop(): Promise<void>
}

const MAX_BODY_BYTES = 256 * 1024 * 1024
const NS_PER_MS = 1_000_000n
const TEXT = 'text/plain; charset=utf-8'

interface Answer {
  readonly status: number
  readonly body: string
  readonly type: string
}

const nowNs = (): bigint => BigInt(Date.now()) * NS_PER_MS

const record = (labels: Labels): Record<string, string> => Object.fromEntries(labels)

const readBody = async (req: IncomingMessage): Promise<Buffer | undefined> => {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) {
      return undefined
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

export const startLoki = async (options: LokiOptions = {}): Promise<Loki> => {
  const limits: LokiLimits = { ...LOKI_DEFAULT_LIMITS, ...options.limits }
  const auth = options.auth === false ? undefined : (options.auth ?? {})
  const username = auth === undefined ? '' : (auth.username ?? String(randomInt(100_000, 10_000_000)))
  const password = auth === undefined ? '' : (auth.password ?? `glc_${randomBytes(24).toString('base64url')}`)
  const authorization =
    auth === undefined ? undefined : `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
  const tenant = auth === undefined ? 'fake' : username
  const storeLimits = {
    maxStreams: limits.maxStreams,
    outOfOrderWindowNs: BigInt(limits.outOfOrderWindowMs) * NS_PER_MS,
    maxReturnedErrors: 10
  }
  const store = new LogStore(storeLimits, tenant)
  const bucket = options.ingestionRate === undefined ? undefined : new TokenBucket(options.ingestionRate)
  const requests: LokiRequest[] = []

  /**
   * The push path after decoding: validation, rate limit, store; the answer's status and text.
   * A bulk load skips the checks that depend on when a request arrives (age, rate).
   */
  const ingest = (streams: readonly PushStream[], bulk: boolean): { status: number; message: string } => {
    if (streams.length === 0) {
      return { status: 422, message: 'error at least one valid stream is required for ingestion' }
    }
    const validated = validatePush(streams, limits, { now: bulk ? undefined : nowNs() })
    const refusals = validated.errors.length > 0 ? groupErrors(validated.errors) : undefined
    if (validated.streams.length === 0) {
      return refusals === undefined ? { status: 204, message: '' } : { status: 400, message: refusals }
    }
    if (!bulk && bucket !== undefined && !bucket.allow(validated.bytes)) {
      return { status: 429, message: bucket.message(tenant, validated.lines, validated.bytes) }
    }
    const stored = store.push(validated.streams)
    if (stored !== undefined) {
      return stored
    }
    return refusals === undefined ? { status: 204, message: '' } : { status: 400, message: refusals }
  }

  const authorised = (req: IncomingMessage): { status: number; body: string } | undefined => {
    if (authorization === undefined) {
      return undefined
    }
    const given = header(req, 'authorization')
    if (given === undefined || !/^basic /iu.test(given)) {
      return { status: 401, body: '{"status":"error","error":"no credentials provided"}' }
    }
    return given.slice(6).trim() === authorization.slice(6)
      ? undefined
      : { status: 401, body: '{"status":"error","error":"authentication error: invalid token"}' }
  }

  const handle = async (req: IncomingMessage, body: Buffer | undefined): Promise<Answer> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (body === undefined) {
      return { status: 413, body: 'request body too large\n', type: TEXT }
    }
    if (url.pathname === '/ready') {
      return { status: 200, body: 'ready\n', type: TEXT }
    }
    const route = ['/loki/api/v1/push', '/loki/api/v1/query_range'].find((path) => path === url.pathname)
    if (route === undefined) {
      return { status: 404, body: '404 page not found\n', type: TEXT }
    }
    const refused = authorised(req)
    if (refused !== undefined) {
      return { ...refused, type: 'application/json' }
    }
    if (route === '/loki/api/v1/push') {
      if (req.method !== 'POST') {
        return { status: 405, body: '', type: TEXT }
      }
      try {
        const decoded = decodePush(body, header(req, 'content-type'), header(req, 'content-encoding'))
        const { status, message } = ingest(decoded, false)
        return { status, body: status === 204 ? '' : `${message}\n`, type: TEXT }
      } catch (error) {
        if (error instanceof PushError) {
          return { status: error.status, body: `${error.message}\n`, type: TEXT }
        }
        throw error
      }
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      return { status: 405, body: '', type: TEXT }
    }
    const form = new URLSearchParams(url.searchParams)
    if (req.method === 'POST' && /application\/x-www-form-urlencoded/iu.test(header(req, 'content-type') ?? '')) {
      for (const [name, value] of new URLSearchParams(body.toString('utf8'))) {
        form.append(name, value)
      }
    }
    const answer = queryRange(store, form, header(req, 'x-loki-response-encoding-flags'), limits, nowNs())
    return { status: answer.status, body: answer.body, type: answer.contentType }
  }

  const sockets = new Set<Socket>()
  const respond = async (req: IncomingMessage): Promise<Answer> => {
    const body = await readBody(req)
    const answer = await handle(req, body)
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query: url.search,
      status: answer.status,
      contentType: header(req, 'content-type'),
      contentEncoding: header(req, 'content-encoding'),
      bodyBytes: body?.length ?? MAX_BODY_BYTES
    })
    return answer
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    respond(req).then(
      (answer) => {
        res.writeHead(answer.status, answer.status === 204 ? {} : { 'content-type': answer.type })
        res.end(answer.status === 204 ? undefined : answer.body)
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': TEXT })
        res.end(`${error instanceof Error ? error.message : String(error)}\n`)
      }
    )
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo

  let stopping: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    tenant,
    username,
    password,
    authorization,
    load(streams) {
      const decoded = streams.map(({ stream, values }) =>
        pushStream(
          new Map(Object.entries(stream)),
          values.map(([ts, line, metadata]) => ({
            ts: BigInt(ts),
            line,
            metadata: Object.entries(metadata ?? {})
          }))
        )
      )
      const { status, message } = ingest(decoded, true)
      if (status !== 204) {
        throw new Error(`loki stand-in: load refused (${status}): ${message}`)
      }
    },
    streams: () =>
      store
        .streams()
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .map((stream) => ({ labels: record(stream.labels), entries: stream.length })),
    entries(match = {}) {
      const wanted = Object.entries(match)
      return store
        .streams()
        .filter((stream) => wanted.every(([name, value]) => stream.labels.some(([n, v]) => n === name && v === value)))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .flatMap((stream) =>
          Array.from({ length: stream.length }, (_, i) => ({
            labels: record(stream.labels),
            ts: String(stream.tsAt(i)),
            line: stream.lineAt(i),
            metadata: record(store.metadata(stream.metadataIdAt(i)))
          }))
        )
    },
    counts: () => store.counts(),
    requests,
    reset() {
      store.clear()
      requests.length = 0
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        for (const socket of sockets) {
          socket.destroy()
        }
        server.close(() => resolve())
      })
      return stopping
    }
  }
}
