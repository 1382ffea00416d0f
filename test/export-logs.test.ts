/**
 * scripts/export-logs.sh against the Loki stand-in (dev/loki.ts, held to the measured Loki):
 * three days of lines in five streams, with groups of lines sharing one nanosecond larger than a
 * page, on window (day) and page edges, and hostile text in lines, label values and metadata.
 * Exported at several page sizes and compared entry by entry with what the stand-in stores;
 * restored into a fresh stand-in; faults; the token's secrecy.
 */
import { execFile } from 'node:child_process'
import { statSync } from 'node:fs'
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLoki, type LoadStream, type Loki, type LokiEntry } from '../dev/loki'
import { startProxy, type ProxyBehaviour } from '../dev/proxy'
import { SERVICE_NAME } from '../src/loki'
import { runScript, type ScriptRun } from './helpers/run-script'

const execFileP = promisify(execFile)
const SCRIPT = resolve(__dirname, '..', 'scripts', 'export-logs.sh')
const METRICS_SCRIPT = resolve(__dirname, '..', 'scripts', 'export-metrics.sh')
const NS = 1_000_000_000n
const DAY = 86_400
const HOUR = 3_600

// The window (FROM, TO] in seconds: three days, within the week a fresh Loki accepts pushes for.
const TO = Math.floor(Date.now() / 1000) - 600
const FROM = TO - 3 * DAY
const ns = (seconds: number, extra = 0n): bigint => BigInt(seconds) * NS + extra

const HOSTILE = [
  'quote " backslash \\ tab \t newline \n end',
  'NUL \u0000 and other controls \u0001\u001f DEL \u007f',
  'emoji 🚀👩‍💻 and combining e\u0301',
  'line separator \u2028 paragraph \u2029',
  'regex .*+?()[]{}|^$ \\d \\',
  'json {"a":[1,"b"]} and \\u0041 as text',
  'carriage \r return',
  '-]^[\\'
]

type Labels = Record<string, string>
const A: Labels = { service_name: SERVICE_NAME, botId: 'bot-1', channel: 'web', version: '1.0.0' }
const B: Labels = { service_name: SERVICE_NAME, botId: 'bot-2', channel: HOSTILE[0]!, version: '2.0.0' }
// B2 differs from B in its channel only, so telling their lines apart takes a filter on that value.
const B2: Labels = { ...B, channel: `${HOSTILE[3]!} ${HOSTILE[1]!}` }
const C: Labels = { service_name: SERVICE_NAME, botId: 'bot-3', channel: 'web' }
const OTHER: Labels = { service_name: 'other-service', botId: 'bot-1' }
const STREAMS = [A, B, B2, C, OTHER]

interface Entry {
  readonly labels: Labels
  readonly ts: bigint
  readonly line: string
  readonly metadata: Labels
}

const cardLine = (level: string, message: string): string =>
  JSON.stringify({ level, message, instance: 'k3x9q0m2z7a1b' })

/** Nanoseconds that many lines share (each group larger than the small pages of the tests). */
const GROUP_AT_DAY_EDGE = ns(FROM + DAY) // the last nanosecond of the first 1-day window
const GROUP_AFTER_DAY_EDGE = ns(FROM + DAY, 1n) // the first of the second
const GROUP_MID = ns(FROM + DAY + 40_000, 123n)

const buildEntries = (): Entry[] => {
  const out: Entry[] = []
  const add = (labels: Labels, ts: bigint, line: string, metadata: Labels = {}) =>
    out.push({ labels, ts, line, metadata })
  // One line every 2477 s from an hour before the window to an hour after it, at odd nanoseconds.
  for (let i = 0, t = FROM - HOUR; t <= TO + HOUR; i++, t += 2477) {
    add(
      STREAMS[i % STREAMS.length]!,
      ns(t, BigInt((i * 7919) % 1_000_000_000)),
      cardLine(i % 5 === 0 ? 'error' : 'info', `${HOSTILE[i % HOSTILE.length]!} #${i}`),
      { card: 'sendLog', conversationId: HOSTILE[(i + 3) % HOSTILE.length]!, userId: `u${i % 4}` }
    )
  }
  // 13 lines of one stream sharing a long prefix, and one line written alike to four streams.
  HOSTILE.concat(['a', 'b', 'c', 'd', 'e']).forEach((text, k) =>
    add(A, GROUP_AT_DAY_EDGE, cardLine('info', `group at the day edge: ${text}`), { turn: String(k) })
  )
  for (const labels of [A, B, B2, C])
    add(labels, GROUP_AT_DAY_EDGE, 'the same line in four streams', { note: HOSTILE[4]! })
  for (let k = 0; k < 9; k++) add(B, GROUP_AFTER_DAY_EDGE, `after the edge ${k} ${HOSTILE[k % HOSTILE.length]!}`)
  // Lines that are prefixes of one another, lines of one character (regex syntax among them),
  // and one line alike in B and B2.
  for (let k = 1; k <= 8; k++) add(B2, GROUP_MID, 'a'.repeat(k))
  for (const c of [
    '[',
    ']',
    '^',
    '-',
    '\\',
    '.',
    '*',
    '$',
    '(',
    ')',
    '{',
    '}',
    '|',
    '+',
    '?',
    '/',
    '\u0000',
    '\u2028',
    '🚀',
    '\n',
    '\t',
    '\u007f'
  ])
    add(C, GROUP_MID, c, { char: c })
  for (const c of ['[x', ']x', '^x', '-x', '\\x', '(?i)X', '\u0000x', '🚀x']) add(C, GROUP_MID, c)
  add(B, GROUP_MID, 'alike in B and B2')
  add(B2, GROUP_MID, 'alike in B and B2')
  // On the window's edges: at --from (not exported), at --to (exported), one nanosecond past each.
  for (let k = 0; k < 6; k++) {
    add(A, ns(FROM), `at --from ${k}`)
    add(A, ns(TO), `at --to ${k}`)
  }
  add(A, ns(FROM, 1n), 'just after --from')
  add(A, ns(TO, 1n), 'just after --to')
  return out
}

const ENTRIES = buildEntries()

/** The entries as load() takes them: per stream, in time order (the 1-hour rule). */
const loadStreams = (entries: readonly Entry[]): LoadStream[] =>
  STREAMS.map((labels) => ({
    stream: labels,
    values: entries
      .filter((e) => e.labels === labels)
      .sort((x, y) => (x.ts < y.ts ? -1 : x.ts > y.ts ? 1 : 0))
      .map((e) => [e.ts, e.line, e.metadata] as const)
  })).filter((s) => s.values.length > 0)

// ---------------------------------------------------------------- comparing
const sortedObject = (o: Labels): Array<[string, string]> =>
  Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

const keyOf = (e: { labels: Labels; ts: string; line: string; metadata: Labels }): string =>
  JSON.stringify([e.ts, sortedObject(e.labels), e.line, sortedObject(e.metadata)])

const inWindow = (e: LokiEntry, from: number, to: number): boolean => BigInt(e.ts) > ns(from) && BigInt(e.ts) <= ns(to)

/** What the stand-in stores of the default selection in (from, to], as keys. */
const expected = (loki: Loki, from = FROM, to = TO, match: Labels = { service_name: SERVICE_NAME }): string[] =>
  loki
    .entries(match)
    .filter((e) => inWindow(e, from, to))
    .map(keyOf)

const compare = (actual: string[], want: string[]): void => {
  const count = (keys: string[]) => {
    const m = new Map<string, number>()
    for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1)
    return m
  }
  const got = count(actual)
  const wanted = count(want)
  const missing = [...wanted.keys()].filter((k) => !got.has(k))
  const extra = [...got.keys()].filter((k) => !wanted.has(k))
  const doubled = [...got.entries()].filter(([, n]) => n > 1).map(([k]) => k)
  expect({ missing: missing.slice(0, 3), extra: extra.slice(0, 3), doubled: doubled.slice(0, 3) }).toEqual({
    missing: [],
    extra: [],
    doubled: []
  })
  expect(actual.length).toBe(want.length)
}

interface JsonlEntry {
  ts: string
  labels: Labels
  metadata: Labels
  line: string
}

const parseJsonl = (text: string): JsonlEntry[] => {
  expect(text === '' || text.endsWith('\n')).toBe(true)
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const o = JSON.parse(l) as JsonlEntry
      expect(Object.keys(o)).toEqual(['ts', 'labels', 'metadata', 'line'])
      expect(o.ts).toMatch(/^[1-9][0-9]*$/u)
      return o
    })
}

/**
 * The documented order: by nanosecond, then by the labels' JSON text, then by the line's, byte
 * by byte. The texts are cut from the raw lines (quotes inside JSON strings are escaped, so
 * `},"metadata":` and `,"line":` occur only where the structure puts them).
 */
const expectOrdered = (text: string): void => {
  const rows = text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^\{"ts":"(\d+)","labels":(\{.*?\}),"metadata":.*?,"line":(".*")\}$/su.exec(l)
      expect(m, l).not.toBeNull()
      return { ts: BigInt(m![1]!), labels: Buffer.from(m![2]!), line: Buffer.from(m![3]!) }
    })
  for (let i = 1; i < rows.length; i++) {
    const [p, q] = [rows[i - 1]!, rows[i]!]
    const order =
      p.ts !== q.ts ? (p.ts < q.ts ? -1 : 1) : Buffer.compare(p.labels, q.labels) || Buffer.compare(p.line, q.line)
    if (order >= 0) expect.fail(`line ${i + 1} is not after line ${i}`)
  }
}

// ---------------------------------------------------------------- running the script
let work: string
let loki: Loki
const started: Loki[] = []

const lokiEnv = (server: Loki, url = server.url): Record<string, string> => ({
  GRAFANA_LOGS_URL: url,
  GRAFANA_LOGS_USER_ID: server.username,
  GRAFANA_LOGS_READ_TOKEN: server.password
})

const runExport = async (
  args: string[],
  env: Record<string, string>,
  secret?: string,
  timeoutMs = 60_000
): Promise<ScriptRun> =>
  await runScript(
    SCRIPT,
    args,
    { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), ...env },
    secret,
    timeoutMs
  )

const WINDOW = ['--from', String(FROM), '--to', new Date(TO * 1000).toISOString()]

/** The query_range requests the stand-in saw since `since`, as their parameters. */
const queriesSince = (server: Loki, since: number): URLSearchParams[] =>
  server.requests
    .slice(since)
    .filter((r) => r.path === '/loki/api/v1/query_range')
    .map((r) => new URLSearchParams(r.query))

/** Posts a push body as the docs say (curl, JSON content type), credentials on curl's stdin. */
const curlPush = async (server: Loki, file: string): Promise<string> => {
  const config = `user = "${server.username}:${server.password}"\n`
  const child = execFile(
    'curl',
    [
      '-q',
      '-sS',
      '-K',
      '-',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      `@${file}`,
      `${server.url}/loki/api/v1/push`
    ],
    { timeout: 30_000 }
  )
  child.stdin!.end(config)
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  await new Promise((r) => child.on('close', r))
  return out
}

type Value = [string, string, unknown?]
interface QueryAnswer {
  data: { result: Array<{ stream: Labels; values: Value[] }> }
}

/**
 * A server in front of `target` whose full pages do not stop at `limit` inside a nanosecond but
 * run on to the end of their last one, as if Loki returned a nanosecond's lines always together.
 * It asks `target` for 5,000 lines (more than the tests hold) and cuts the answer itself.
 */
const startWholeGroups = async (
  target: Loki
): Promise<{ url: string; longPages: () => number; close: () => Promise<void> }> => {
  let longPages = 0
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const limit = Number(url.searchParams.get('limit'))
    url.searchParams.set('limit', '5000')
    const headers: Record<string, string> = {}
    for (const name of ['authorization', 'x-loki-response-encoding-flags']) {
      const value = req.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    fetch(`${target.url}${url.pathname}${url.search}`, { headers, signal: AbortSignal.timeout(10_000) })
      .then(async (r) => {
        const text = await r.text()
        if (r.status !== 200) {
          res.writeHead(r.status).end(text)
          return
        }
        const answer = JSON.parse(text) as QueryAnswer
        const flat = answer.data.result.flatMap(({ stream, values }) => values.map((value) => ({ stream, value })))
        flat.sort((a, b) =>
          BigInt(a.value[0]) < BigInt(b.value[0]) ? -1 : BigInt(a.value[0]) > BigInt(b.value[0]) ? 1 : 0
        )
        let n = Math.min(limit, flat.length)
        while (n > 0 && n < flat.length && flat[n]!.value[0] === flat[n - 1]!.value[0]) n++
        if (n > limit) longPages++
        const streams = new Map<string, { stream: Labels; values: Value[] }>()
        for (const { stream, value } of flat.slice(0, n)) {
          const key = JSON.stringify(stream)
          if (!streams.has(key)) streams.set(key, { stream, values: [] })
          streams.get(key)!.values.push(value)
        }
        answer.data.result = [...streams.values()]
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
      })
      .catch(() => res.writeHead(502).end())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    longPages: () => longPages,
    close: () => new Promise<void>((r) => server.close(() => r()))
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'export-logs-test-'))
  loki = await startLoki()
  started.push(loki)
  loki.load(loadStreams(ENTRIES))
  expect(loki.counts()).toMatchObject({ stored: ENTRIES.length, duplicatesMerged: 0 })
})

afterAll(async () => {
  for (const s of started) await s.stop()
  if (work) await rm(work, { recursive: true, force: true })
})

/** A run's file and the query_range requests it made. */
interface Exported {
  readonly text: string
  readonly queries: URLSearchParams[]
}

const cache = new Map<string, Promise<Exported>>()

/**
 * The export of the window with `args`, made once for every test that reads it (whichever test
 * comes first runs it): stderr empty, exit 0.
 */
const exported = (args: string[]): Promise<Exported> => {
  const key = JSON.stringify(args)
  let run = cache.get(key)
  if (run === undefined) {
    run = (async () => {
      const out = join(work, `export-${cache.size}.out`)
      const since = loki.requests.length
      const r = await runExport([...WINDOW, ...args, '--out', out], lokiEnv(loki))
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      return { text: await readFile(out, 'utf8'), queries: queriesSince(loki, since) }
    })()
    cache.set(key, run)
  }
  return run
}

const pageArgs = (limit: string | undefined): string[] => (limit === undefined ? [] : ['--limit', limit])

// ---------------------------------------------------------------- tests
describe('export-logs.sh: every line of the window exactly once', () => {
  for (const limit of [undefined, '5', '2'] as const) {
    it(`pages of ${limit ?? 'the default 5000'} lines: each line once, in the documented order`, async () => {
      const { text, queries } = await exported(pageArgs(limit))
      compare(parseJsonl(text).map(keyOf), expected(loki))
      expectOrdered(text)
      expect(queries.every((q) => q.get('direction') === 'forward' && q.get('limit') === (limit ?? '5000'))).toBe(true)
      if (limit !== undefined) {
        // Groups larger than a page were read nanosecond by nanosecond, narrowed by line filters
        // and, for lines alike in more streams than a page holds, by a label filter.
        const oneNs = queries.filter((q) => BigInt(q.get('end')!) - BigInt(q.get('start')!) === 1n)
        expect(oneNs.map((q) => q.get('start'))).toEqual(
          expect.arrayContaining([String(GROUP_AT_DAY_EDGE), String(GROUP_AFTER_DAY_EDGE), String(GROUP_MID)])
        )
        expect(oneNs.some((q) => q.get('query')!.includes('|~ "^'))).toBe(true)
        if (limit === '2') {
          // Two lines alike in B and B2 fill a page of 2: only their channel tells them apart.
          const filters = oneNs.map((q) => /\| channel=("(?:[^"\\]|\\.)*")/u.exec(q.get('query')!)?.[1])
          const values = filters.filter(Boolean).map((v) => JSON.parse(v!) as string)
          expect(values.some((v) => v === B.channel || v === B2.channel)).toBe(true)
        }
      }
    })
  }

  it('gives the same bytes whatever the page size', async () => {
    const whole = (await exported([])).text
    expect(whole.length).toBeGreaterThan(0)
    expect((await exported(pageArgs('5'))).text).toBe(whole)
    expect((await exported(pageArgs('2'))).text).toBe(whole)
  })

  it('gives the same bytes from a server whose full pages run on to the end of their last nanosecond', async () => {
    const server = await startWholeGroups(loki)
    try {
      const out = join(work, 'whole-groups.jsonl')
      const r = await runExport([...WINDOW, '--limit', '5', '--out', out], lokiEnv(loki, server.url))
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(server.longPages()).toBeGreaterThan(0)
      expect(await readFile(out, 'utf8')).toBe((await exported([])).text)
    } finally {
      await server.close()
    }
  })

  it('exports the lines at --to and none at --from; the hostile texts come back exactly', async () => {
    const got = parseJsonl((await exported([])).text)
    const lines = new Set(got.map((e) => e.line))
    for (let k = 0; k < 6; k++) {
      expect(lines.has(`at --to ${k}`)).toBe(true)
      expect(lines.has(`at --from ${k}`)).toBe(false)
    }
    expect(lines.has('just after --from')).toBe(true)
    expect(lines.has('just after --to')).toBe(false)
    for (const c of ['\u0000', '\u2028', '🚀', '\n', '\\', '\u007f']) expect(lines.has(c)).toBe(true)
    expect(got.some((e) => e.labels.channel === B2.channel)).toBe(true)
    expect(got.some((e) => e.metadata.conversationId === HOSTILE[1])).toBe(true)
    expect(got.every((e) => e.labels.service_name === SERVICE_NAME)).toBe(true)
  })

  it('consecutive windows, cut on a nanosecond many lines share, give the whole file together', async () => {
    const mid = FROM + DAY // GROUP_AT_DAY_EDGE is its last nanosecond, GROUP_AFTER_DAY_EDGE the next
    const first = join(work, 'first.jsonl')
    const second = join(work, 'second.jsonl')
    let r = await runExport(
      ['--from', String(FROM), '--to', String(mid), '--limit', '3', '--out', first],
      lokiEnv(loki)
    )
    expect(r.code, r.stderr).toBe(0)
    r = await runExport(['--from', String(mid), '--to', String(TO), '--limit', '4', '--out', second], lokiEnv(loki))
    expect(r.code, r.stderr).toBe(0)
    const a = await readFile(first, 'utf8')
    const b = await readFile(second, 'utf8')
    expect(parseJsonl(a).some((e) => e.ts === String(GROUP_AT_DAY_EDGE))).toBe(true)
    expect(parseJsonl(b).some((e) => e.ts === String(GROUP_AFTER_DAY_EDGE))).toBe(true)
    expect(a + b).toBe((await exported([])).text)
  })
})

describe('export-logs.sh: what it selects', () => {
  it('by default, the streams the integration writes: {service_name="botpress"}', async () => {
    const script = await readFile(SCRIPT, 'utf8')
    expect(/^DEFAULT_QUERY='([^']*)'$/mu.exec(script)?.[1]).toBe(`{service_name="${SERVICE_NAME}"}`)
    const { stdout } = await execFileP('bash', [SCRIPT, '--help'])
    expect(stdout).toContain(`{service_name="${SERVICE_NAME}"}`)
  })

  it('--query: another selector, and a filter on structured metadata', async () => {
    const out = join(work, 'other.jsonl')
    let r = await runExport([...WINDOW, '--query', '{service_name="other-service"}', '--out', out], lokiEnv(loki))
    expect(r.code, r.stderr).toBe(0)
    const other = parseJsonl(await readFile(out, 'utf8'))
    expect(other.length).toBeGreaterThan(0)
    compare(other.map(keyOf), expected(loki, FROM, TO, OTHER))
    // The push URL of the stack's Loki details page works as well.
    r = await runExport(
      [...WINDOW, '--query', `{service_name="${SERVICE_NAME}"} | userId="u1"`, '--limit', '3', '--out', out],
      lokiEnv(loki, `${loki.url}/loki/api/v1/push`)
    )
    expect(r.code, r.stderr).toBe(0)
    const u1 = parseJsonl(await readFile(out, 'utf8'))
    expect(u1.length).toBeGreaterThan(0)
    compare(
      u1.map(keyOf),
      loki
        .entries({ service_name: SERVICE_NAME })
        .filter((e) => inWindow(e, FROM, TO) && e.metadata.userId === 'u1')
        .map(keyOf)
    )
  })

  it('a window longer than 30 days is read in windows Loki accepts', async () => {
    const old = await startLoki()
    started.push(old)
    const now = Math.floor(Date.now() / 1000)
    const values = Array.from(
      { length: 50 },
      (_, i) => [ns(now - 45 * DAY + i * 20_000 * 3 + 7), `old line ${i}`] as const
    )
    old.load([{ stream: { service_name: SERVICE_NAME }, values }])
    // The limit is real: one query over 31 days is refused.
    const refused = await fetch(
      `${old.url}/loki/api/v1/query_range?${new URLSearchParams({ query: `{service_name="${SERVICE_NAME}"}`, start: String(ns(now - 46 * DAY)), end: String(ns(now - 15 * DAY)) })}`,
      { headers: { authorization: old.authorization! } }
    )
    expect(refused.status).toBe(400)
    expect(await refused.text()).toMatch(/query time range exceeds the limit/u)
    const out = join(work, 'long.jsonl')
    const since = old.requests.length
    const r = await runExport(['--from', '46d', '--chunk', '30d', '--out', out], lokiEnv(old))
    expect(r.code, r.stderr).toBe(0)
    compare(parseJsonl(await readFile(out, 'utf8')).map(keyOf), old.entries().map(keyOf))
    expect(
      old.requests
        .slice(since)
        .filter((q) => q.path === '/loki/api/v1/query_range')
        .map((q) => q.status)
    ).toEqual([200, 200])
    const tooLong = await runExport(['--chunk', '31d'], lokiEnv(old))
    expect(tooLong.code).not.toBe(0)
    expect(tooLong.stderr).toMatch(/at most 30d/u)
  })
})

describe('export-logs.sh: --format push restores into another Loki', () => {
  const pushArgs = ['--format', 'push', '--limit', '5']

  it('posted with curl as the docs say, a fresh Loki holds the same entries', async () => {
    const file = join(work, 'restore.json')
    await writeFile(file, (await exported(pushArgs)).text)
    const body = JSON.parse(await readFile(file, 'utf8')) as {
      streams: Array<{ stream: Labels; values: Array<[string, string, Labels]> }>
    }
    // Per stream, entries oldest first (Loki refuses an entry over an hour behind its stream's newest).
    const newest = new Map<string, bigint>()
    for (const { stream, values } of body.streams) {
      const k = JSON.stringify(sortedObject(stream))
      for (const [ts] of values) {
        expect(BigInt(ts) >= (newest.get(k) ?? 0n)).toBe(true)
        newest.set(k, BigInt(ts))
      }
    }
    const fresh = await startLoki()
    started.push(fresh)
    expect(await curlPush(fresh, file)).toBe('204')
    expect(fresh.counts()).toMatchObject({ duplicatesMerged: 0, tooFarBehind: 0 })
    compare(fresh.entries().map(keyOf), expected(loki))
  })

  it('pushed in parts as the docs say (sed and awk cut one body per line), a fresh Loki holds the same entries', async () => {
    const { text } = await exported(pushArgs)
    const lines = text.split('\n')
    expect(lines[0]).toBe('{"streams":[')
    expect(lines.slice(-2)).toEqual([']}', ''])
    const dir = await mkdtemp(join(work, 'parts-'))
    await writeFile(join(dir, 'restore.json'), text)
    await execFileP(
      'sh',
      [
        '-c',
        "mkdir parts && sed -e '1d' -e '$d' -e 's/,$//' restore.json | awk '{ f = sprintf(\"parts/%06d.json\", NR); printf \"{\\\"streams\\\":[%s]}\\n\", $0 > f; close(f) }'"
      ],
      { cwd: dir }
    )
    const parts = (await readdir(join(dir, 'parts'))).sort()
    expect(parts.length).toBe(lines.length - 3)
    expect(parts.length).toBeGreaterThan(10)
    const fresh = await startLoki()
    started.push(fresh)
    for (const part of parts) expect(await curlPush(fresh, join(dir, 'parts', part))).toBe('204')
    compare(fresh.entries().map(keyOf), expected(loki))
  })

  it('an empty window gives an empty push body and an empty jsonl file', async () => {
    const out = join(work, 'empty.json')
    const empty = ['--from', String(TO + 2 * HOUR), '--to', String(TO + 3 * HOUR)]
    let r = await runExport([...empty, '--format', 'push', '--out', out], lokiEnv(loki))
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual({ streams: [] })
    r = await runExport([...empty, '--out', out], lokiEnv(loki))
    expect(r.code, r.stderr).toBe(0)
    expect(await readFile(out, 'utf8')).toBe('')
  })
})

describe('export-logs.sh: files and tools', () => {
  it('--out -: the same bytes on stdout; a file is created with mode 0600 and replaced on a re-run', async () => {
    const r = await runExport([...WINDOW, '--out', '-'], lokiEnv(loki))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe((await exported([])).text)
    const file = join(work, 'replaced.jsonl')
    await writeFile(file, 'an older export\n')
    expect((await runExport([...WINDOW, '--out', file], lokiEnv(loki))).code).toBe(0)
    expect(await readFile(file, 'utf8')).toBe(r.stdout)
    expect(statSync(file).mode & 0o777).toBe(0o600)
  })

  it('shows progress on a terminal, and none with --quiet', async () => {
    const env = { ...process.env, ...lokiEnv(loki) }
    const command = (extra: string) =>
      `bash '${SCRIPT}' --from ${FROM} --to ${TO} --limit 50 --out '${join(work, 'tty.jsonl')}' ${extra}`
    // script(1) gives the export a terminal; what it writes there comes back on stdout.
    const shown = await execFileP('script', ['-qec', command(''), '/dev/null'], { env, timeout: 60_000 })
    expect(shown.stdout).toMatch(/export-logs\.sh: window 3\/3, \d+ lines, \d+ requests/u)
    expect(shown.stdout).toContain(`export-logs.sh: done: ${parseJsonl((await exported([])).text).length} lines in`)
    const quiet = await execFileP('script', ['-qec', command('--quiet'), '/dev/null'], { env, timeout: 60_000 })
    expect(quiet.stdout).toBe('')
  })

  it("with the BWK awk that macOS ships (Debian's original-awk), both formats are byte-identical", async () => {
    const bin = await mkdtemp(join(work, 'bwk-'))
    await execFileP('ln', ['-s', '/usr/bin/original-awk', join(bin, 'awk')])
    for (const format of ['jsonl', 'push']) {
      const mawk = join(bin, `mawk.${format}`)
      const bwk = join(bin, `bwk.${format}`)
      const args = [...WINDOW, '--format', format, '--limit', '7']
      expect((await runExport([...args, '--out', mawk], lokiEnv(loki))).code).toBe(0)
      const r = await runExport([...args, '--out', bwk], { ...lokiEnv(loki), PATH: `${bin}:${process.env.PATH}` })
      expect(r.code, r.stderr).toBe(0)
      expect(await readFile(bwk, 'utf8')).toBe(await readFile(mawk, 'utf8'))
    }
  })

  it('shares with export-metrics.sh, as the same text, the time forms, config quoting, backoff and error messages', async () => {
    const logs = await readFile(SCRIPT, 'utf8')
    const metrics = await readFile(METRICS_SCRIPT, 'utf8')
    const defs = (text: string) => /^JQ_TIME_DEFS='([^']*)'$/mu.exec(text)?.[1]
    expect(defs(logs)).toContain('def parse_time($now):')
    expect(defs(logs)).toBe(defs(metrics))
    const fn = (text: string, name: string) => new RegExp(`^${name}\\(\\) \\{.*?^\\}$`, 'msu').exec(text)?.[0]
    for (const name of ['die', 'need_arg', 'cfg_quote', 'server_message', 'backoff']) {
      expect(fn(logs, name), name).toMatch(new RegExp(`^${name}`, 'u'))
      expect(fn(logs, name), name).toBe(fn(metrics, name))
    }
  })

  it('--help documents every option and environment variable', async () => {
    const { stdout } = await execFileP('bash', [SCRIPT, '--help'])
    const script = await readFile(SCRIPT, 'utf8')
    const parse = script.slice(script.indexOf('parse_args() {'), script.indexOf('check_args() {'))
    const options = [...parse.matchAll(/^\s+(-[a-z-]+(?: \| -[a-z-]+)*)\)/gmu)].flatMap((m) => m[1]!.split(' | '))
    expect(options.length).toBeGreaterThan(12)
    for (const option of options) {
      if (['--token', '--password', '--api-key'].includes(option)) continue // refused, named in the error
      expect(stdout, option).toMatch(new RegExp(`(^|[\\s,])${option}\\b`, 'mu'))
    }
    for (const name of ['GRAFANA_LOGS_URL', 'GRAFANA_LOGS_USER_ID', 'GRAFANA_LOGS_READ_TOKEN', 'logs:read'])
      expect(stdout).toContain(name)
    for (const format of ['jsonl', 'push']) expect(stdout).toContain(format)
  })

  it('refuses a token on the command line, credentials in the URL, and a page size Loki refuses', async () => {
    let r = await runExport(['--token', 'abc'], {})
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/GRAFANA_LOGS_READ_TOKEN/u)
    r = await runExport(['--url', 'https://u:p@example.invalid'], {})
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/credentials/u)
    for (const limit of ['1', '5001']) {
      r = await runExport(['--limit', limit], lokiEnv(loki))
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(/--limit must be from 2 to 5000/u)
    }
  })
})

// ---------------------------------------------------------------- faults
const leftovers = async (dir: string): Promise<string[]> => await readdir(dir)

const SHORT = ['--from', String(FROM + DAY), '--to', String(FROM + 2 * DAY), '--limit', '5']

describe('export-logs.sh: faults', () => {
  it('wrong token: a clear message about logs:read, exit ≠ 0, no file', async () => {
    const dir = await mkdtemp(join(work, 'wrong-'))
    const wrong = 'glc_wrong-token-Zq9'
    const r = await runExport(
      [...WINDOW, '--out', join(dir, 'x.jsonl')],
      { ...lokiEnv(loki), GRAFANA_LOGS_READ_TOKEN: wrong },
      wrong
    )
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/HTTP 401/u)
    expect(r.stderr).toMatch(/logs:read/u)
    expect(r.stderr + r.stdout).not.toContain(wrong)
    expect(r.cmdlineHits).toBe(0)
    expect(await leftovers(dir)).toEqual([])
  })

  const withProxy = async (
    behaviours: readonly ProxyBehaviour[],
    then: ProxyBehaviour | undefined,
    body: (url: string, count: () => number) => Promise<void>
  ): Promise<void> => {
    let n = 0
    const proxy = await startProxy(loki.url, { onRequest: () => n++, maxHangMs: 5_000 })
    proxy.script('r', behaviours, then)
    try {
      await body(proxy.routeUrl('r'), () => n)
    } finally {
      await proxy.close()
    }
  }
  const forward: ProxyBehaviour = { kind: 'forward' }

  it('429 (twice) then success: the export completes and is complete', async () => {
    const dir = await mkdtemp(join(work, 'busy-'))
    const busy: ProxyBehaviour = { kind: 'status', status: 429, body: 'too many outstanding requests' }
    await withProxy([forward, busy, busy], forward, async (url, count) => {
      const out = join(dir, 'x.jsonl')
      const r = await runExport([...SHORT, '--retry-delay', '0.05', '--out', out], lokiEnv(loki, url), loki.password)
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(r.cmdlineHits).toBe(0)
      expect(count()).toBeGreaterThan(3)
      compare(parseJsonl(await readFile(out, 'utf8')).map(keyOf), expected(loki, FROM + DAY, FROM + 2 * DAY))
      expect(await leftovers(dir)).toEqual(['x.jsonl'])
    })
  })

  it('a server that dies mid-export: retried, then exit ≠ 0 with a message, nothing left at --out', async () => {
    const dir = await mkdtemp(join(work, 'dies-'))
    await withProxy([forward, forward, forward, forward], { kind: 'reset' }, async (url, count) => {
      const r = await runExport(
        [...SHORT, '--retries', '2', '--retry-delay', '0.05', '--out', join(dir, 'x.jsonl')],
        lokiEnv(loki, url)
      )
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(/cannot reach .* after 3 attempts/u)
      expect(count()).toBe(4 + 3)
      expect(await leftovers(dir)).toEqual([])
    })
  })

  it('500 every time: bounded retries, the server message shown, no file', async () => {
    const dir = await mkdtemp(join(work, 'broken-'))
    const broken: ProxyBehaviour = { kind: 'status', status: 500, body: 'querier exploded' }
    await withProxy([forward], broken, async (url, count) => {
      const r = await runExport(
        [...SHORT, '--retries', '1', '--retry-delay', '0.05', '--out', join(dir, 'x.jsonl')],
        lokiEnv(loki, url)
      )
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(/HTTP 500 .* after 2 attempts: querier exploded/u)
      expect(count()).toBe(1 + 2)
      expect(await leftovers(dir)).toEqual([])
    })
  })

  it('a query Loki refuses (400) is not retried: its message is shown', async () => {
    const dir = await mkdtemp(join(work, 'bad-'))
    const since = loki.requests.length
    const r = await runExport(
      [...WINDOW, '--query', '{service_name="botpress"', '--out', join(dir, 'x.jsonl')],
      lokiEnv(loki)
    )
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/HTTP 400\): parse error/u)
    expect(queriesSince(loki, since)).toHaveLength(1)
    expect(await leftovers(dir)).toEqual([])
  })
})

describe('export-logs.sh: the token', () => {
  it('is in no command line (curl gets it on stdin) and in no child environment, from the environment or --token-file', async () => {
    const bin = await mkdtemp(join(work, 'shim-'))
    const record = join(bin, 'curl-calls.txt')
    const realCurl = (await execFileP('sh', ['-c', 'command -v curl'])).stdout.trim()
    // A curl that writes down its arguments and whether the token variable reached it, then runs curl.
    await writeFile(
      join(bin, 'curl'),
      `#!/bin/sh\nprintf '%s\\n' "$*" >>'${record}'\nprintf 'env:%s\\n' "\${GRAFANA_LOGS_READ_TOKEN:+set}" >>'${record}'\nexec '${realCurl}' "$@"\n`
    )
    await chmod(join(bin, 'curl'), 0o755)
    const tokenFile = join(bin, 'token')
    await writeFile(tokenFile, `${loki.password}\n`, { mode: 0o600 })
    const env = { ...lokiEnv(loki), PATH: `${bin}:${process.env.PATH}` }
    const out = join(work, 'token.jsonl')
    let r = await runExport([...SHORT, '--out', out], env, loki.password)
    expect(r.code, r.stderr).toBe(0)
    expect(r.cmdlineHits).toBe(0)
    expect(r.processesSeen).toBeGreaterThan(3)
    const withoutToken = { GRAFANA_LOGS_URL: loki.url, GRAFANA_LOGS_USER_ID: loki.username, PATH: env.PATH }
    r = await runExport([...SHORT, '--token-file', tokenFile, '--out', out], withoutToken, loki.password)
    expect(r.code, r.stderr).toBe(0)
    expect(r.cmdlineHits).toBe(0)
    compare(parseJsonl(await readFile(out, 'utf8')).map(keyOf), expected(loki, FROM + DAY, FROM + 2 * DAY))
    const calls = await readFile(record, 'utf8')
    expect(calls.split('\n').filter((l) => l === '-q -K -').length).toBeGreaterThan(4)
    expect(calls).not.toContain(loki.password)
    expect(calls).not.toContain('env:set')
    expect(await readFile(out, 'utf8')).not.toContain(loki.password)
  })
})
