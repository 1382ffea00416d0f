/**
 * The Loki stand-in (dev/loki.ts) held to the shared grafana-loki.md, one test per row a client of
 * this project can trigger (push: the Send Log card and the log trail; read: export-logs.sh),
 * each over HTTP against a fresh stand-in. Names say the behaviour; the row is quoted above each
 * group.
 */
import { gzipSync } from 'node:zlib'
import { afterEach, describe, expect, test } from 'vitest'
import { startLoki, type Loki, type LokiOptions } from '../dev/loki'

const started: Loki[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((loki) => loki.stop()))
})

const start = async (options?: LokiOptions): Promise<Loki> => {
  const loki = await startLoki(options)
  started.push(loki)
  return loki
}

const MS = 1_000_000n
const SECOND = 1000n * MS
const MINUTE = 60n * SECOND
const HOUR = 60n * MINUTE
const DAY = 24n * HOUR

/** Now in nanoseconds, rounded to the millisecond; tests place lines minutes or hours away from it. */
const now = (): bigint => BigInt(Date.now()) * MS

interface Answer {
  readonly status: number
  readonly text: string
  readonly headers: Headers
}

const send = async (loki: Loki, path: string, init: RequestInit & { auth?: boolean }): Promise<Answer> => {
  const headers = new Headers(init.headers)
  if (init.auth !== false && loki.authorization !== undefined) {
    headers.set('authorization', loki.authorization)
  }
  const res = await fetch(`${loki.url}${path}`, { ...init, headers, signal: AbortSignal.timeout(10_000) })
  return { status: res.status, text: await res.text(), headers: res.headers }
}

type Value = readonly [string, string, Record<string, string>?]
interface Stream {
  readonly stream: Record<string, string>
  readonly values: readonly Value[]
}

const push = async (
  loki: Loki,
  body: { streams: readonly Stream[] } | string,
  init: RequestInit & { auth?: boolean } = {}
) =>
  await send(loki, '/loki/api/v1/push', {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) }
  })

const pushOne = async (loki: Loki, labels: Record<string, string>, ...values: Value[]) =>
  await push(loki, { streams: [{ stream: labels, values }] })

interface QueryStream {
  readonly stream: Record<string, string>
  readonly values: Array<[string, string, { structuredMetadata?: Record<string, string> }?]>
}

interface QueryBody {
  readonly status: string
  readonly data: { resultType: string; encodingFlags?: string[]; result: QueryStream[]; stats: { summary: object } }
}

const query = async (loki: Loki, params: Record<string, string>, headers: Record<string, string> = {}) => {
  const answer = await send(loki, `/loki/api/v1/query_range?${new URLSearchParams(params)}`, { headers })
  return { ...answer, body: answer.status === 200 ? (JSON.parse(answer.text) as QueryBody) : undefined }
}

/** Every [ts, line] a query returns, in result order, streams one after the other. */
const lines = (body: QueryBody | undefined): Array<[string, string]> =>
  (body?.data.result ?? []).flatMap((s) => s.values.map(([ts, line]) => [ts, line] as [string, string]))

/** A window around now that holds every line the tests push. */
const around = (t: bigint): Record<string, string> => ({ start: String(t - 6n * HOUR), end: String(t + HOUR) })

describe("Grafana Cloud's gateway", () => {
  test('answers 401 to a push without credentials or with a wrong token, and stores nothing', async () => {
    const loki = await start()
    const body = { streams: [{ stream: { app: 'bot' }, values: [[String(now()), 'hello']] as Value[] }] }
    expect((await push(loki, body, { auth: false })).status).toBe(401)
    const wrong = `Basic ${Buffer.from(`${loki.username}:not-the-token`).toString('base64')}`
    const refused = await push(loki, body, { auth: false, headers: { authorization: wrong } })
    expect(refused.status).toBe(401)
    expect(refused.text).not.toContain(loki.password)
    expect(loki.counts().stored).toBe(0)
  })

  test('answers 401 to a read without credentials', async () => {
    const loki = await start()
    const answer = await send(loki, `/loki/api/v1/query_range?${new URLSearchParams({ query: '{app="bot"}' })}`, {
      auth: false
    })
    expect(answer.status).toBe(401)
  })

  test('passes a push with the user ID and token on to Loki, whose tenant is the user ID', async () => {
    const loki = await start({ auth: { username: '123456' } })
    expect(loki.tenant).toBe('123456')
    expect((await pushOne(loki, { app: 'bot' }, [String(now()), 'hello'])).status).toBe(204)
    expect(loki.entries().map((e) => e.line)).toEqual(['hello'])
  })
})

describe('push: body and encoding', () => {
  test('stores a JSON body sent as application/json and answers 204 with an empty body', async () => {
    const loki = await start()
    const t = now()
    const answer = await pushOne(loki, { app: 'bot' }, [String(t), 'hello', { conversationId: 'c1' }])
    expect(answer).toMatchObject({ status: 204, text: '' })
    expect(loki.entries()).toEqual([
      {
        labels: { app: 'bot', service_name: 'bot' },
        ts: String(t),
        line: 'hello',
        metadata: { conversationId: 'c1', detected_level: 'unknown' }
      }
    ])
  })

  test('reads a body without the JSON content type as snappy protobuf: 400 snappy: corrupt input', async () => {
    const loki = await start()
    const body = JSON.stringify({ streams: [{ stream: { app: 'bot' }, values: [[String(now()), 'hello']] }] })
    const answer = await send(loki, '/loki/api/v1/push', {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain' }
    })
    expect(answer).toMatchObject({ status: 400, text: 'snappy: corrupt input\n' })
    expect(loki.counts().stored).toBe(0)
  })

  test('accepts a gzip-compressed body (Content-Encoding: gzip)', async () => {
    const loki = await start()
    const body = gzipSync(
      JSON.stringify({ streams: [{ stream: { app: 'bot' }, values: [[String(now()), 'zipped']] }] })
    )
    const answer = await send(loki, '/loki/api/v1/push', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }
    })
    expect(answer.status).toBe(204)
    expect(loki.entries().map((e) => e.line)).toEqual(['zipped'])
  })

  test('refuses a timestamp sent as a JSON number with 400, storing nothing', async () => {
    const loki = await start()
    const t = now()
    const body = `{"streams":[{"stream":{"app":"bot"},"values":[["${t}","kept?"],[${t + 1n},"number"]]}]}`
    const answer = await push(loki, body)
    expect(answer.status).toBe(400)
    expect(loki.counts().stored).toBe(0)
  })
})

describe('push: streams', () => {
  test('answers {"streams":[]} with 422 at least one valid stream is required', async () => {
    const loki = await start()
    const answer = await push(loki, { streams: [] })
    expect(answer.status).toBe(422)
    expect(answer.text).toContain('at least one valid stream is required')
  })

  test('answers a stream with no values 204 and stores nothing (a credentials check)', async () => {
    const loki = await start()
    expect(await pushOne(loki, { app: 'bot' })).toMatchObject({ status: 204, text: '' })
    expect(loki.counts()).toMatchObject({ streams: 0, stored: 0 })
  })

  test('refuses the whole request when one stream has a bad label name: neither stream is stored', async () => {
    const loki = await start()
    const t = now()
    const answer = await push(loki, {
      streams: [
        { stream: { app: 'bot' }, values: [[String(t), 'valid stream']] },
        { stream: { 'conversation-id': 'c1' }, values: [[String(t), 'bad label']] }
      ]
    })
    expect(answer.status).toBe(400)
    expect(loki.counts()).toMatchObject({ streams: 0, stored: 0 })
  })

  test("refuses a label name outside [a-zA-Z_][a-zA-Z0-9_]* with 400 couldn't parse labels", async () => {
    const loki = await start()
    const answer = await pushOne(loki, { 'conversation-id': 'c1' }, [String(now()), 'x'])
    expect(answer.status).toBe(400)
    expect(answer.text).toMatch(/^couldn't parse labels: .*unexpected character inside braces: '-'/u)
    const digit = await pushOne(loki, { '1app': 'x' }, [String(now()), 'x'])
    expect(digit.text).toMatch(/^couldn't parse labels/u)
  })

  test('counts the service_name it adds toward the 15 label names: 14 given are taken, 15 given refused with 400', async () => {
    const loki = await start()
    const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'v']))
    expect((await pushOne(loki, labels(14), [String(now()), 'fourteen'])).status).toBe(204)
    const answer = await pushOne(loki, labels(15), [String(now()), 'fifteen'])
    expect(answer.status).toBe(400)
    expect(answer.text).toContain('has 16 label names; limit 15')
    expect(loki.entries().map((e) => e.line)).toEqual(['fourteen'])
    expect(Object.keys(loki.streams()[0]?.labels ?? {})).toHaveLength(15)
  })

  test('refuses a label value over 2048 characters with 400 and takes one of 2048', async () => {
    const loki = await start()
    expect((await pushOne(loki, { app: 'a'.repeat(2048) }, [String(now()), 'long value'])).status).toBe(204)
    const answer = await pushOne(loki, { app: 'a'.repeat(2049) }, [String(now()), 'too long'])
    expect(answer.status).toBe(400)
    expect(answer.text).toContain('has label value too long')
    expect(loki.entries().map((e) => e.line)).toEqual(['long value'])
  })

  test('drops a label whose value is empty', async () => {
    const loki = await start()
    expect((await pushOne(loki, { app: 'bot', channel: '' }, [String(now()), 'x'])).status).toBe(204)
    expect(loki.streams().map((s) => s.labels)).toEqual([{ app: 'bot', service_name: 'bot' }])
  })

  test('accepts a stream with no labels at all, as service_name="unknown_service"', async () => {
    const loki = await start()
    expect((await pushOne(loki, {}, [String(now()), 'anonymous'])).status).toBe(204)
    expect(loki.streams()).toEqual([{ labels: { service_name: 'unknown_service' }, entries: 1 }])
  })

  test('adds service_name from service_name, service, app, job… labels, else unknown_service', async () => {
    const loki = await start()
    const t = String(now())
    const labelSets: Array<Record<string, string>> = [
      { service_name: 's', app: 'a' },
      { service: 'svc', app: 'a' },
      { app: 'a', job: 'j' },
      { job: 'j' },
      { bot: 'b' }
    ]
    for (const labels of labelSets) {
      expect((await pushOne(loki, labels, [t, 'x'])).status).toBe(204)
    }
    expect(
      loki
        .streams()
        .map((s) => s.labels.service_name)
        .sort()
    ).toEqual(['a', 'j', 's', 'svc', 'unknown_service'])
  })
})

/** Every character a JSON string can carry that a careless store would mangle. */
const AWKWARD = 'q"uote \\back\nnew\ttab\r\u0000nul\u0001\u001f\u007fdel \u2028\u2029 😀 <&> é'

describe('push: content stored exactly', () => {
  test('stores label values, lines and metadata values exactly, control characters and emoji included', async () => {
    const loki = await start()
    const t = now()
    expect((await pushOne(loki, { app: 'bot', note: AWKWARD }, [String(t), AWKWARD, { detail: AWKWARD }])).status).toBe(
      204
    )
    const read = await query(
      loki,
      { query: '{app="bot"}', ...around(t) },
      { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' }
    )
    const [stream] = read.body?.data.result ?? []
    expect(stream?.stream.note).toBe(AWKWARD)
    expect(stream?.values[0]?.[1]).toBe(AWKWARD)
    expect(stream?.values[0]?.[2]?.structuredMetadata?.detail).toBe(AWKWARD)
  })

  test('refuses the whole request with 400 for a lone UTF-16 surrogate, in a line, label or metadata value', async () => {
    const loki = await start()
    const t = String(now())
    const lone = 'a\ud800b'
    const good: Stream = { stream: { app: 'bot' }, values: [[t, 'fine']] }
    for (const bad of [
      { stream: { app: 'bot' }, values: [[t, lone]] },
      { stream: { app: lone }, values: [[t, 'x']] },
      { stream: { app: 'bot' }, values: [[t, 'x', { detail: lone }]] }
    ] as Stream[]) {
      const body = JSON.stringify({ streams: [good, bad] })
      expect(body).toContain('\\ud800')
      expect((await push(loki, body)).status).toBe(400)
    }
    expect(loki.counts().stored).toBe(0)
  })

  test('refuses a line over 262,144 bytes with 400 Max entry size … exceeded and takes one of 262,144', async () => {
    const loki = await start()
    const t = now()
    expect((await pushOne(loki, { app: 'bot' }, [String(t), 'x'.repeat(262_144)])).status).toBe(204)
    const answer = await pushOne(loki, { app: 'bot' }, [String(t + 1n), 'é'.repeat(131_073)])
    expect(answer.status).toBe(400)
    expect(answer.text).toMatch(/^Max entry size '262144' bytes exceeded for stream .* with length '262146' bytes/u)
    expect(loki.counts().stored).toBe(1)
  })

  test('answers an empty line 204 and does not store it', async () => {
    const loki = await start()
    const t = now()
    expect(await pushOne(loki, { app: 'bot' }, [String(t), ''])).toMatchObject({ status: 204, text: '' })
    expect(lines((await query(loki, { query: '{app="bot"}', ...around(t) })).body)).toEqual([])
    expect(loki.counts()).toMatchObject({ stored: 0, emptyLinesDropped: 1 })
  })
})

describe('push: structured metadata', () => {
  test('refuses a metadata value that is not a string with 400', async () => {
    const loki = await start()
    const body = `{"streams":[{"stream":{"app":"bot"},"values":[["${now()}","x",{"turn":3}]]}]}`
    expect((await push(loki, body)).status).toBe(400)
    expect(loki.counts().stored).toBe(0)
  })

  test('sanitises metadata names (conv-id becomes conv_id) and adds no stream for them', async () => {
    const loki = await start()
    const t = now()
    await pushOne(
      loki,
      { app: 'bot' },
      [String(t), 'one', { 'conv-id': 'c1' }],
      [String(t + 1n), 'two', { 'conv-id': 'c2' }]
    )
    expect(loki.streams()).toHaveLength(1)
    expect(loki.entries().map((e) => e.metadata['conv_id'])).toEqual(['c1', 'c2'])
  })
})

describe('push: timestamps', () => {
  test('accepts a line up to an hour behind its stream newest one', async () => {
    const loki = await start()
    const t = now()
    expect((await pushOne(loki, { app: 'bot' }, [String(t), 'newest'])).status).toBe(204)
    expect((await pushOne(loki, { app: 'bot' }, [String(t - 59n * MINUTE), 'late'])).status).toBe(204)
    expect(loki.entries().map((e) => e.line)).toEqual(['late', 'newest'])
  })

  test('refuses a line further behind with 400 entry too far behind and stores the rest of the request', async () => {
    const loki = await start()
    const t = now()
    const answer = await pushOne(loki, { app: 'bot' }, [String(t), 'kept'], [String(t - 2n * HOUR), 'too far behind'])
    expect(answer.status).toBe(400)
    expect(answer.text).toMatch(
      /entry too far behind, entry timestamp is: .* total ignored: 1 out of 2 for stream: \{app="bot", service_name="bot"\}/su
    )
    expect(loki.entries().map((e) => e.line)).toEqual(['kept'])
  })

  test('takes the same lines in time order, as a restore pushes them', async () => {
    const loki = await start()
    const t = now()
    const answer = await pushOne(loki, { app: 'bot' }, [String(t - 2n * HOUR), 'older'], [String(t), 'newer'])
    expect(answer.status).toBe(204)
    expect(loki.counts().stored).toBe(2)
  })

  test('refuses a line more than 10 minutes in the future with 400 timestamp too new', async () => {
    const loki = await start()
    const t = now()
    const answer = await pushOne(
      loki,
      { app: 'bot' },
      [String(t + 11n * MINUTE), 'future'],
      [String(t + 5n * MINUTE), 'soon']
    )
    expect(answer.status).toBe(400)
    expect(answer.text).toContain('has timestamp too new')
    expect(loki.entries().map((e) => e.line)).toEqual(['soon'])
  })

  test('refuses a line older than reject_old_samples_max_age (a week) with 400 timestamp too old', async () => {
    const loki = await start()
    const t = now()
    const answer = await pushOne(
      loki,
      { app: 'bot' },
      [String(t - 8n * DAY), 'last week'],
      [String(t - 6n * DAY), 'recent']
    )
    expect(answer.status).toBe(400)
    expect(answer.text).toContain('has timestamp too old')
    expect(loki.entries().map((e) => e.line)).toEqual(['recent'])
  })
})

describe('push: duplicates', () => {
  test('keeps one entry per stream, nanosecond and line, within a request and across requests, first metadata winning', async () => {
    const loki = await start()
    const t = now()
    const same = (instance: string): Value => [String(t), 'same', { instance }]
    expect((await pushOne(loki, { app: 'bot' }, same('a'), [String(t), 'other'], same('b'))).status).toBe(204)
    expect((await pushOne(loki, { app: 'bot' }, same('c'))).status).toBe(204)
    // A retry that arrives after other lines of the stream is merged too.
    expect((await pushOne(loki, { app: 'bot' }, [String(t + 1n), 'later'])).status).toBe(204)
    expect((await pushOne(loki, { app: 'bot' }, same('d'))).status).toBe(204)
    expect(loki.entries().map((e) => [e.line, e.metadata['instance']])).toEqual([
      ['same', 'a'],
      ['other', undefined],
      ['later', undefined]
    ])
    expect(loki.counts()).toMatchObject({ stored: 3, duplicatesMerged: 3 })
  })

  test('keeps both entries of one nanosecond with different lines', async () => {
    const loki = await start()
    const t = String(now())
    await pushOne(loki, { app: 'bot' }, [t, 'first'])
    await pushOne(loki, { app: 'bot' }, [t, 'second'])
    expect(loki.entries().map((e) => e.line)).toEqual(['first', 'second'])
  })
})

describe('push: rate limit and level', () => {
  test('answers 429 without Retry-After past the ingestion rate, storing nothing of that request', async () => {
    const loki = await start({ ingestionRate: { bytesPerSecond: 1, burstBytes: 200 } })
    const t = now()
    expect((await pushOne(loki, { app: 'bot' }, [String(t), 'x'.repeat(120)])).status).toBe(204)
    const answer = await pushOne(loki, { app: 'bot' }, [String(t + 1n), 'y'.repeat(120)])
    expect(answer.status).toBe(429)
    expect(answer.text).toContain('Ingestion rate limit exceeded')
    expect(answer.headers.get('retry-after')).toBeNull()
    expect(loki.counts().stored).toBe(1)
  })

  test('derives detected_level from a level label or metadata field, or a logfmt or JSON line', async () => {
    const loki = await start()
    const t = now()
    await pushOne(loki, { app: 'labelled', level: 'warn' }, [String(t), 'from the label'])
    await pushOne(
      loki,
      { app: 'bot' },
      [String(t), 'from metadata', { severity: 'error' }],
      [String(t + 1n), 'level=WARNING msg="logfmt"'],
      [String(t + 2n), '{"level":"dbg","msg":"json"}'],
      [String(t + 3n), 'level=critical msg=x'],
      [String(t + 4n), 'nothing to go by']
    )
    expect(loki.entries().map((e) => [e.line, e.metadata['detected_level']])).toEqual([
      ['from metadata', 'error'],
      ['level=WARNING msg="logfmt"', 'warn'],
      ['{"level":"dbg","msg":"json"}', 'debug'],
      ['level=critical msg=x', 'critical'],
      ['nothing to go by', 'unknown'],
      ['from the label', 'warn']
    ])
  })

  test('adds no detected_level when discover_log_levels is off', async () => {
    const loki = await start({ limits: { discoverLogLevels: false } })
    await pushOne(loki, { app: 'bot' }, [String(now()), 'level=error'])
    expect(loki.entries().map((e) => e.metadata)).toEqual([{}])
  })
})

describe('read: query_range parameters', () => {
  test('reads start inclusive and end exclusive, as nanoseconds or RFC 3339', async () => {
    const loki = await start()
    const t = now() - HOUR + 123_456_789n
    await pushOne(
      loki,
      { app: 'bot' },
      [String(t - 1n), 'before'],
      [String(t), 'at start'],
      [String(t + SECOND), 'at end']
    )
    const byNs = await query(loki, { query: '{app="bot"}', start: String(t), end: String(t + SECOND) })
    expect(lines(byNs.body)).toEqual([[String(t), 'at start']])
    const rfc = (ns: bigint) =>
      `${new Date(Number(ns / MS)).toISOString().slice(0, 19)}.${String(ns % SECOND).padStart(9, '0')}Z`
    const byRfc = await query(loki, { query: '{app="bot"}', start: rfc(t), end: rfc(t + SECOND) })
    expect(lines(byRfc.body)).toEqual([[String(t), 'at start']])
  })

  test('returns newest first by default (backward) and oldest first with direction=forward', async () => {
    const loki = await start()
    const t = now()
    await pushOne(loki, { app: 'bot' }, [String(t - 2n), 'a'], [String(t - 1n), 'b'], [String(t), 'c'])
    const backward = await query(loki, { query: '{app="bot"}', ...around(t) })
    expect(lines(backward.body).map(([, line]) => line)).toEqual(['c', 'b', 'a'])
    const forward = await query(loki, { query: '{app="bot"}', ...around(t), direction: 'forward' })
    expect(lines(forward.body).map(([, line]) => line)).toEqual(['a', 'b', 'c'])
  })

  test('returns 100 lines by default and at most limit; a limit over 5,000 is refused with 400', async () => {
    const loki = await start()
    const t = now()
    await pushOne(
      loki,
      { app: 'bot' },
      ...Array.from({ length: 150 }, (_, i): Value => [String(t - BigInt(i)), `line ${i}`])
    )
    expect(lines((await query(loki, { query: '{app="bot"}', ...around(t) })).body)).toHaveLength(100)
    expect(lines((await query(loki, { query: '{app="bot"}', ...around(t), limit: '5000' })).body)).toHaveLength(150)
    const refused = await query(loki, { query: '{app="bot"}', ...around(t), limit: '6000' })
    expect(refused.status).toBe(400)
    expect(refused.text).toBe('max entries limit per query exceeded, limit > max_entries_limit_per_query (6000 > 5000)')
  })

  test('refuses a range over 30 days 1 hour with 400 and takes one of exactly 721 h', async () => {
    const loki = await start()
    const end = now()
    const ok = await query(loki, { query: '{app="bot"}', start: String(end - 721n * HOUR), end: String(end) })
    expect(ok.status).toBe(200)
    const refused = await query(loki, { query: '{app="bot"}', start: String(end - 721n * HOUR - MS), end: String(end) })
    expect(refused.status).toBe(400)
    expect(refused.text).toBe('the query time range exceeds the limit (query length: 721h0m0.001s, limit: 30d1h)')
  })
})

describe('read: lines of one nanosecond', () => {
  test('returns the lines of one stream and one nanosecond together, in the order they were written', async () => {
    const loki = await start()
    const t = now()
    await pushOne(
      loki,
      { app: 'bot' },
      [String(t - 1n), 'before'],
      [String(t), 'line 1'],
      [String(t), 'line 2'],
      [String(t), 'line 3'],
      [String(t + 1n), 'after']
    )
    const forward = await query(loki, { query: '{app="bot"}', ...around(t), direction: 'forward' })
    expect(lines(forward.body).map(([, line]) => line)).toEqual(['before', 'line 1', 'line 2', 'line 3', 'after'])
    const backward = await query(loki, { query: '{app="bot"}', ...around(t) })
    expect(lines(backward.body).map(([, line]) => line)).toEqual(['after', 'line 3', 'line 2', 'line 1', 'before'])
  })

  test('keeps write order at one nanosecond even when it is not the lines sort order', async () => {
    const loki = await start()
    const t = String(now())
    await pushOne(loki, { app: 'bot' }, [t, 'zebra'], [t, 'apple'])
    await pushOne(loki, { app: 'bot' }, [t, 'mango'])
    const forward = await query(loki, { query: '{app="bot"}', ...around(BigInt(t)), direction: 'forward' })
    expect(lines(forward.body).map(([, line]) => line)).toEqual(['zebra', 'apple', 'mango'])
  })

  test('cuts a page inside a nanosecond group; continuing from that nanosecond and skipping what was read loses nothing', async () => {
    const loki = await start()
    const t = now()
    const values: Value[] = [
      [String(t - 1n), 'a'],
      [String(t), 'b1'],
      [String(t), 'b2'],
      [String(t), 'b3'],
      [String(t + 1n), 'c']
    ]
    await pushOne(loki, { app: 'bot' }, ...values)
    const first = lines(
      (await query(loki, { query: '{app="bot"}', ...around(t), direction: 'forward', limit: '2' })).body
    )
    expect(first).toEqual([
      [String(t - 1n), 'a'],
      [String(t), 'b1']
    ])
    const [lastTs] = first.at(-1) as [string, string]
    const seenAtLast = first.filter(([ts]) => ts === lastTs).length
    const second = lines(
      (
        await query(loki, {
          query: '{app="bot"}',
          start: lastTs,
          end: String(t + HOUR),
          direction: 'forward',
          limit: '3'
        })
      ).body
    )
    expect(second.slice(0, 3)).toEqual([
      [String(t), 'b1'],
      [String(t), 'b2'],
      [String(t), 'b3']
    ])
    const all = [...first, ...second.slice(seenAtLast)]
    expect(all.map(([, line]) => line)).toEqual(['a', 'b1', 'b2', 'b3'])
  })
})

/** Two lines of one stream, each with its own conversationId metadata. */
const pushTwoConversations = async (loki: Loki, t: bigint) =>
  await pushOne(
    loki,
    { app: 'bot' },
    [String(t), 'one', { conversationId: 'c1' }],
    [String(t + 1n), 'two', { conversationId: 'c2' }]
  )

describe('read: structured metadata and LogQL', () => {
  test('merges structured metadata into stream, one result per distinct metadata set', async () => {
    const loki = await start()
    const t = now()
    await pushTwoConversations(loki, t)
    const answer = await query(loki, { query: '{app="bot"}', ...around(t), direction: 'forward' })
    expect(answer.body?.data.result).toEqual([
      {
        stream: { app: 'bot', conversationId: 'c1', detected_level: 'unknown', service_name: 'bot' },
        values: [[String(t), 'one']]
      },
      {
        stream: { app: 'bot', conversationId: 'c2', detected_level: 'unknown', service_name: 'bot' },
        values: [[String(t + 1n), 'two']]
      }
    ])
  })

  test('with X-Loki-Response-Encoding-Flags: categorize-labels, keeps indexed labels in stream and metadata in each value', async () => {
    const loki = await start()
    const t = now()
    await pushTwoConversations(loki, t)
    const answer = await query(
      loki,
      { query: '{app="bot"}', ...around(t), direction: 'forward' },
      { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' }
    )
    expect(answer.body?.data).toMatchObject({
      resultType: 'streams',
      encodingFlags: ['categorize-labels'],
      result: [
        {
          stream: { app: 'bot', service_name: 'bot' },
          values: [
            [String(t), 'one', { structuredMetadata: { conversationId: 'c1', detected_level: 'unknown' } }],
            [String(t + 1n), 'two', { structuredMetadata: { conversationId: 'c2', detected_level: 'unknown' } }]
          ]
        }
      ]
    })
  })

  test('answers in Loki shape: status success, resultType streams, result and stats', async () => {
    const loki = await start()
    const answer = await query(loki, { query: '{app="bot"}' })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/u)
    expect(Object.keys(answer.body ?? {})).toEqual(['status', 'data'])
    expect(answer.body?.status).toBe('success')
    expect(Object.keys(answer.body?.data ?? {})).toEqual(['resultType', 'result', 'stats'])
    expect(Object.keys(answer.body?.data.stats ?? {})).toEqual(['summary', 'querier', 'ingester', 'cache', 'index'])
  })

  test('filters on structured metadata with | name="value" and on the line with |=', async () => {
    const loki = await start()
    const t = now()
    await pushOne(
      loki,
      { service_name: 'bot' },
      [String(t), 'hello', { conversationId: 'c1' }],
      [String(t + 1n), 'bye', { conversationId: 'c1' }],
      [String(t + 2n), 'hello', { conversationId: 'c2' }]
    )
    const byMetadata = await query(loki, {
      query: '{service_name="bot"} | conversationId="c1"',
      ...around(t),
      direction: 'forward'
    })
    expect(lines(byMetadata.body)).toEqual([
      [String(t), 'hello'],
      [String(t + 1n), 'bye']
    ])
    const byLine = await query(loki, {
      query: '{service_name="bot"} |= "hell" | conversationId=~"c.*"',
      ...around(t),
      direction: 'forward'
    })
    expect(lines(byLine.body).map(([ts]) => ts)).toEqual([String(t), String(t + 2n)])
  })

  test('refuses the LogQL it does not implement (parsers, metric queries) with 501 rather than a wrong answer', async () => {
    const loki = await start()
    for (const q of ['{app="bot"} | logfmt', '{app="bot"} | json', 'count_over_time({app="bot"}[1h])']) {
      expect((await query(loki, { query: q })).status).toBe(501)
    }
  })
})

describe('history for the export script', () => {
  test('loads two weeks of lines without HTTP and pages them all forward, each exactly once', async () => {
    const loki = await start()
    const end = now()
    const values: Value[] = []
    for (let i = 0; i < 3000; i++) {
      // Two lines of every three share a nanosecond: page edges fall inside such groups.
      const ts = end - 14n * DAY + BigInt(Math.floor(i / 3) * 2) * 10n * MINUTE + BigInt(i % 3 === 2 ? 1 : 0)
      values.push([String(ts), `line ${i}`, { turn: String(i) }])
    }
    loki.load([{ stream: { app: 'bot' }, values }])
    expect(loki.counts().stored).toBe(3000)
    const read: string[] = []
    let from = end - 15n * DAY
    let skip = 0
    for (let page = 0; page < 100; page++) {
      // Categorised, a page keeps each stream whole and in time order; merged, every metadata set
      // would be a result of its own, sorted by labels rather than time.
      const page = await query(
        loki,
        { query: '{app="bot"}', start: String(from), end: String(end), direction: 'forward', limit: '250' },
        { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' }
      )
      const got = lines(page.body)
      read.push(...got.slice(skip).map(([, line]) => line))
      if (got.length < 250) {
        break
      }
      const lastTs = (got.at(-1) as [string, string])[0]
      skip = got.filter(([ts]) => ts === lastTs).length
      from = BigInt(lastTs)
    }
    expect(read).toEqual(values.map(([, line]) => line))
  })
})
