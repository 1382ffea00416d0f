/**
 * scripts/export-metrics.sh against real servers: VictoriaMetrics 1.79 and Prometheus 2.42.
 * 15 days of history at one sample per 60 s, exported in all three formats from each server and
 * compared sample by sample with the ground truth; round trips; faults; the token's secrecy.
 */
import { execFile } from 'node:child_process'
import { lstatSync } from 'node:fs'
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, request as httpRequest, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  freePort,
  startPrometheus,
  startVictoriaMetrics,
  type RunningServer,
  type VictoriaMetrics
} from '../dev/servers'
import { buildLlmUsageEvent } from '../src/llm-usage'
import { buildMetricEvent } from '../src/metric'
import { sendLlmUsageInputSchema, sendMetricInputSchema } from '../src/schemas'
import { SEND_METRIC_SERIES_PATTERN } from '../src/series-names'
import { runScript, type ScriptRun } from './helpers/run-script'

const execFileP = promisify(execFile)
const SCRIPT = resolve(__dirname, '..', 'scripts', 'export-metrics.sh')
const MIN = 60_000
const DAY = 86_400_000

// ---------------------------------------------------------------- ground truth
type Labels = Record<string, string>
interface Series {
  labels: Labels // includes __name__
  t: number[] // ms
  v: number[]
}

const END = Math.floor(Date.now() / MIN) * MIN - 10 * MIN // newest sample
const START = END - 15 * DAY
const TO = END - 30 * MIN // export window (FROM, TO]: minute-aligned, so samples sit exactly on both edges
const FROM = TO - 14 * DAY

const common = { channel: 'web', botId: 'bot-1', version: '1.2.3' }
const SERIES_DEFS: Array<{ labels: Labels; offsetMs: number; value: (i: number) => number; every?: number }> = [
  {
    labels: {
      __name__: 'signup_metric',
      ...common,
      conversationId: 'conv,1',
      userId: 'user "q"',
      instance: 'k3x9q0m2z7a1b'
    },
    offsetMs: 0,
    value: () => 1
  },
  {
    labels: {
      __name__: 'signup_metric',
      ...common,
      channel: 'télégram 🚀',
      conversationId: 'c2',
      userId: 'ü=1, x',
      instance: '0p4w8e6r2t5y1'
    },
    offsetMs: 0,
    value: (i) => (i % 7) + 1
  },
  {
    labels: {
      __name__: 'reply_metric',
      ...common,
      conversationId: 'line1\nline2',
      userId: 'back\\slash',
      plan: 'pro',
      instance: 'k3x9q0m2z7a1b'
    },
    offsetMs: 123,
    value: (i) => (i % 13) * 0.25 - 1
  },
  {
    labels: { __name__: 'cpu_load', __mimir_source__: 'influx', host: 'a=b c' },
    offsetMs: 0,
    value: (i) => Math.round(Math.sin(i / 50) * 1e6) / 1e3,
    every: 2
  },
  { labels: { __name__: 'unrelated_series', job: 'node' }, offsetMs: 0, value: (i) => i, every: 60 } // not in the default selectors
]
const DEFAULT_SELECTED = (l: Labels) =>
  new RegExp(`^(?:${SEND_METRIC_SERIES_PATTERN})$`).test(l.__name__!) || l.__mimir_source__ === 'influx'

describe('the default selection', () => {
  const script = async () => readFile(SCRIPT, 'utf8')
  const stamp = { instance: '0000000000abc', timestamp: 1_700_000_000_000 }
  const context = { botId: 'b', includeConversationAndUserIds: false }

  it('is the Send Metric series the cards write, plus everything written through the influx endpoint', async () => {
    const defaults = /^DEFAULT_MATCHES='([^']*)'$/mu.exec(await script())?.[1]?.split('\n')
    expect(defaults).toEqual([
      `{__name__=~"${SEND_METRIC_SERIES_PATTERN}"}`,
      `{__mimir_source__="influx",__name__!~"${SEND_METRIC_SERIES_PATTERN}"}`
    ])
  })

  it('selects what Send Metric writes by name, and Send LLM Usage only through the influx endpoint', () => {
    const metric = buildMetricEvent(sendMetricInputSchema.parse({ name: 'checkout-done' }), context, stamp)
    expect(DEFAULT_SELECTED({ __name__: metric.seriesName })).toBe(true)
    const llm = buildLlmUsageEvent(
      sendLlmUsageInputSchema.parse({ model: 'm', inputTokens: 1, cost: 1 }),
      context,
      stamp
    )
    for (const name of llm.seriesNames) {
      expect(DEFAULT_SELECTED({ __name__: name })).toBe(false)
      expect(DEFAULT_SELECTED({ __name__: name, __mimir_source__: 'influx' })).toBe(true)
    }
  })

  it('states the series naming in --help', async () => {
    const { stdout } = await execFileP('bash', [SCRIPT, '--help'])
    expect(stdout).toContain(`{__name__=~"${SEND_METRIC_SERIES_PATTERN}"}`)
    expect(stdout).toContain('Send Metric: <name>_metric')
    expect(stdout).toContain('Send LLM Usage: gen_ai_client_*')
  })
})

const TRUTH: Series[] = SERIES_DEFS.map((d) => {
  const t: number[] = []
  const v: number[] = []
  const step = MIN * (d.every ?? 1)
  for (let i = 0, ts = START + d.offsetMs; ts <= END; i++, ts += step) {
    t.push(ts)
    v.push(d.value(i))
  }
  return { labels: d.labels, t, v }
})

// Many series, each with a few hours of samples: one answer of megabytes. Every third one has a
// label the others lack (csv: one column per label name, empty where a series has none).
const BULK_SERIES = 1_000
const BULK_TO = TO
const BULK_FROM = TO - 3 * 3_600_000
const BULK: Series[] = Array.from({ length: BULK_SERIES }, (_, n) => {
  const labels: Labels = {
    __name__: 'bulk_series',
    conversationId: `conv_${String(n).padStart(4, '0')}`,
    instance: `inst${n % 7}`
  }
  if (n % 3 === 0) labels.tier = n % 2 === 0 ? 'free' : 'paid'
  const t: number[] = []
  const v: number[] = []
  for (let ts = BULK_FROM + MIN; ts <= BULK_TO; ts += MIN) {
    t.push(ts)
    v.push(((n * 31 + t.length) % 1000) / 8)
  }
  return { labels, t, v }
})
const BULK_WINDOW = [
  '--match',
  '{__name__="bulk_series"}',
  '--from',
  String(BULK_FROM / 1000),
  '--to',
  String(BULK_TO / 1000)
]

function bulkExpected(): Map<string, number> {
  const m = new Map<string, number>()
  for (const s of BULK) s.t.forEach((t, i) => m.set(sampleKey(s.labels, t), s.v[i]!))
  return m
}

function sampleKey(labels: Labels, t: number): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]])
  return `${JSON.stringify(sorted)}@${t}`
}

function expected(select: (l: Labels) => boolean, from = FROM, to = TO): Map<string, number> {
  const m = new Map<string, number>()
  for (const s of TRUTH) {
    if (!select(s.labels)) continue
    s.t.forEach((t, i) => {
      if (t > from && t <= to) m.set(sampleKey(s.labels, t), s.v[i]!)
    })
  }
  return m
}

function compare(actual: Map<string, number>, want: Map<string, number>): void {
  const missing: string[] = []
  const wrong: string[] = []
  for (const [k, v] of want) {
    if (!actual.has(k)) missing.push(k)
    else if (actual.get(k) !== v) wrong.push(`${k}: got ${actual.get(k)} want ${v}`)
  }
  const extra = [...actual.keys()].filter((k) => !want.has(k))
  expect({
    missing: missing.slice(0, 5),
    extra: extra.slice(0, 5),
    wrong: wrong.slice(0, 5),
    nMissing: missing.length,
    nExtra: extra.length
  }).toEqual({
    missing: [],
    extra: [],
    wrong: [],
    nMissing: 0,
    nExtra: 0
  })
  expect(actual.size).toBe(want.size)
}

// ---------------------------------------------------------------- parsers of the three formats (each rejects duplicates)
/** A per-line check of a parser: a plain throw (an expect() per line makes 100,000 lines take a minute). */
function must(ok: boolean, what: string): void {
  if (!ok) throw new Error(what)
}

function addSample(m: Map<string, number>, labels: Labels, t: number, v: number): void {
  const k = sampleKey(labels, t)
  if (m.has(k)) throw new Error(`duplicate sample ${k}`)
  m.set(k, v)
}

function parseCsvRecords(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let i = 0
  let quoted = false
  while (i < text.length) {
    const c = text[i]!
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i += 2
          continue
        }
        quoted = false
      } else field += c
      i++
      continue
    }
    if (c === '"') quoted = true
    else if (c === ',') {
      row.push(field)
      field = ''
    } else if (c === '\n') {
      row.push(field)
      rows.push(row)
      row = []
      field = ''
    } else if (c !== '\r') field += c
    i++
  }
  if (field !== '' || row.length > 0) {
    row.push(field)
    rows.push(row)
  }
  return rows
}

function parseCsv(text: string): Map<string, number> {
  const [header, ...rows] = parseCsvRecords(text)
  expect(header![0]).toBe('timestamp')
  expect(header![1]).toBe('metric')
  expect(header![header!.length - 1]).toBe('value')
  const cols = header!.slice(2, -1)
  const m = new Map<string, number>()
  let prevTs = ''
  for (const r of rows) {
    must(r.length === header!.length, `a row of ${r.length} fields, not ${header!.length}: ${JSON.stringify(r)}`)
    must(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(r[0]!), `not an ISO time: ${r[0]}`)
    prevTs = r[0]!
    const labels: Labels = { __name__: r[1]! }
    cols.forEach((c, i) => {
      if (r[i + 2] !== '') labels[c] = r[i + 2]!
    })
    addSample(m, labels, Date.parse(r[0]!), Number(r[r.length - 1]))
  }
  void prevTs
  return m
}

function parseJsonl(text: string): Map<string, number> {
  const m = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const o = JSON.parse(line) as { metric: Labels; values: number[]; timestamps: number[] }
    must(o.values.length === o.timestamps.length, `${o.values.length} values, ${o.timestamps.length} timestamps`)
    o.timestamps.forEach((t, i) => addSample(m, o.metric, t, o.values[i]!))
  }
  return m
}

function parseOpenMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>()
  const lines = text.split('\n')
  expect(lines[lines.length - 1]).toBe('')
  expect(lines[lines.length - 2]).toBe('# EOF')
  const familiesSeen = new Set<string>()
  let family = ''
  const lastTs = new Map<string, number>()
  for (const line of lines.slice(0, -2)) {
    const type = /^# TYPE (\S+) unknown$/.exec(line)
    if (type) {
      must(!familiesSeen.has(type[1]!), `family ${type[1]} twice (families interleaved)`)
      familiesSeen.add(type[1]!)
      family = type[1]!
      continue
    }
    const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)
    must(head !== null, `not a sample line: ${line}`)
    const name = head![1]!
    must(name === family, `${name} under the family ${family}`)
    const labels: Labels = { __name__: name }
    let i = name.length
    if (line[i] === '{') {
      i++
      while (line[i] !== '}') {
        const eq = line.indexOf('="', i)
        const key = line.slice(i, eq)
        i = eq + 2
        let val = ''
        while (line[i] !== '"') {
          if (line[i] === '\\') {
            const n = line[i + 1]
            val += n === 'n' ? '\n' : n
            i += 2
          } else val += line[i++]
        }
        labels[key] = val
        i++
        if (line[i] === ',') i++
      }
      i++
    }
    const [value, ts, ...rest] = line.slice(i).trim().split(' ')
    must(rest.length === 0, `more than value and timestamp: ${line}`)
    must(/^\d+(\.\d{1,3})?$/.test(ts ?? ''), `timestamp not in seconds: ${line}`)
    const tms = Math.round(Number(ts) * 1000)
    const sk = JSON.stringify(labels)
    must(tms > (lastTs.get(sk) ?? -Infinity), `series not sorted by time: ${line}`)
    lastTs.set(sk, tms)
    addSample(m, labels, tms, Number(value))
  }
  return m
}

const PARSE = { csv: parseCsv, jsonl: parseJsonl, openmetrics: parseOpenMetrics } as const

// ---------------------------------------------------------------- running the script
interface RunResult extends ScriptRun {
  readonly ms: number
}

function secondsIso(ms: number): string {
  return new Date(ms).toISOString()
}

/** Runs the script; meanwhile samples the command line of the script and every child it starts for `secret`. */
async function runExport(
  args: string[],
  env: Record<string, string>,
  secret?: string,
  timeoutMs = 60_000
): Promise<RunResult> {
  const t0 = Date.now()
  const run = await runScript(
    SCRIPT,
    args,
    { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), ...env },
    secret,
    timeoutMs
  )
  return { ...run, ms: Date.now() - t0 }
}

// ---------------------------------------------------------------- servers and data
let work: string
let vm: VictoriaMetrics
let prom: RunningServer
let truthBlocks: string
const started: RunningServer[] = []

function vmEnv(v: VictoriaMetrics): Record<string, string> {
  return { GRAFANA_PROM_URL: v.url, GRAFANA_USER_ID: v.username, GRAFANA_READ_TOKEN: v.password }
}

async function vmImport(v: VictoriaMetrics, body: string): Promise<void> {
  const res = await fetch(`${v.url}/api/v1/import`, {
    method: 'POST',
    headers: { authorization: v.authorization! },
    body
  })
  expect(res.status).toBe(204)
  await res.text()
  await v.flush()
}

function truthJsonl(series: Series[] = TRUTH): string {
  return series.map((s) => JSON.stringify({ metric: s.labels, values: s.v, timestamps: s.t })).join('\n') + '\n'
}

function omEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function truthOpenMetrics(): string {
  const byName = new Map<string, Series[]>()
  for (const s of TRUTH) byName.set(s.labels.__name__!, [...(byName.get(s.labels.__name__!) ?? []), s])
  const out: string[] = []
  for (const [name, list] of byName) {
    out.push(`# TYPE ${name} unknown`)
    for (const s of list) {
      const l = Object.entries(s.labels)
        .filter(([k]) => k !== '__name__')
        .map(([k, v]) => `${k}="${omEscape(v)}"`)
        .join(',')
      s.t.forEach((t, i) => out.push(`${name}{${l}} ${s.v[i]} ${t / 1000}`))
    }
  }
  out.push('# EOF')
  return out.join('\n') + '\n'
}

/** TSDB blocks from an OpenMetrics file (24h blocks: 2h blocks for 15 days cost promtool and Prometheus ~7x more CPU). */
async function blocksFromOpenMetrics(file: string): Promise<string> {
  const tsdb = await mkdtemp(join(work, 'tsdb-'))
  await execFileP(
    'promtool',
    ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', '--max-block-duration=24h', file, tsdb],
    { timeout: 60_000 }
  )
  return tsdb
}

/** A Prometheus serving a copy of `blocks` (each server gets its own folder). */
async function promServing(blocks: string, extraArgs: string[] = []): Promise<RunningServer> {
  const tsdb = await mkdtemp(join(work, 'tsdb-copy-'))
  await cp(blocks, tsdb, { recursive: true })
  const p = await startPrometheus({
    tsdbPath: tsdb,
    extraArgs: ['--storage.tsdb.max-block-duration=24h', ...extraArgs]
  })
  started.push(p)
  return p
}

async function promFromOpenMetrics(file: string, extraArgs: string[] = []): Promise<RunningServer> {
  return await promServing(await blocksFromOpenMetrics(file), extraArgs)
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'export-test-'))
  vm = await startVictoriaMetrics()
  started.push(vm)
  await vmImport(vm, truthJsonl())
  await vmImport(vm, truthJsonl(BULK))
  const omTruthFile = join(work, 'truth.om')
  await writeFile(omTruthFile, truthOpenMetrics())
  truthBlocks = await blocksFromOpenMetrics(omTruthFile)
  prom = await promServing(truthBlocks)
})

afterAll(async () => {
  for (const s of started) await s.stop()
  if (work) await rm(work, { recursive: true, force: true })
})

const WINDOW = ['--from', secondsIso(FROM), '--to', String(TO / 1000)]
const SHORT_FROM = TO - 3 * DAY
const SHORT = ['--from', String(SHORT_FROM / 1000), '--to', secondsIso(TO)]

// ---------------------------------------------------------------- tests
describe('export-metrics.sh: every sample of the window, in each format, from each server', () => {
  const want = () => expected(DEFAULT_SELECTED)

  for (const server of ['victoria-metrics', 'prometheus'] as const) {
    for (const format of ['csv', 'jsonl', 'openmetrics'] as const) {
      it(`${server} → ${format}`, async () => {
        const out = join(work, `${server}.${format}`)
        const env = server === 'victoria-metrics' ? vmEnv(vm) : { GRAFANA_PROM_URL: prom.url }
        const sample = server === 'victoria-metrics' && format === 'csv'
        const r = await runExport([...WINDOW, '--format', format, '--out', out], env, sample ? vm.password : undefined)
        expect(r.stderr).toBe('')
        expect(r.code).toBe(0)
        const text = await readFile(out, 'utf8')
        compare(PARSE[format](text), want())
        if (server === 'victoria-metrics') {
          if (sample) {
            expect(r.cmdlineHits).toBe(0)
            expect(r.processesSeen).toBeGreaterThan(10) // the sampler saw the curl and jq children
          }
          expect(text).not.toContain(vm.password)
          expect(r.stdout + r.stderr).not.toContain(vm.password)
        }
      })
    }
  }

  it('samples sitting exactly on the window edges and on chunk boundaries: the one at --to in, the one at --from out, each boundary once', async () => {
    const out = join(work, 'edges.jsonl')
    // 7h chunks: boundaries at FROM + k*7h, all minute-aligned, so a sample sits on each.
    const r = await runExport([...SHORT, '--chunk', '7h', '--format', 'jsonl', '--out', out], vmEnv(vm))
    expect(r.code).toBe(0)
    const got = parseJsonl(await readFile(out, 'utf8'))
    compare(got, expected(DEFAULT_SELECTED, SHORT_FROM))
    const s0 = TRUTH[0]!.labels
    expect(got.has(sampleKey(s0, TO))).toBe(true)
    expect(got.has(sampleKey(s0, SHORT_FROM))).toBe(false)
    expect(got.has(sampleKey(s0, SHORT_FROM + 7 * 3_600_000))).toBe(true)
  })

  it('--match for one selector and for everything; overlapping selectors give each series once', async () => {
    const out = join(work, 'match.csv')
    let r = await runExport(
      [...WINDOW, '--match', '{__name__="reply_metric"}', '--match', '{plan="pro"}', '--out', out],
      vmEnv(vm)
    )
    expect(r.code).toBe(0)
    compare(
      parseCsv(await readFile(out, 'utf8')),
      expected((l) => l.__name__ === 'reply_metric')
    )
    r = await runExport([...SHORT, '--match', '{__name__=~".+"}', '--format', 'openmetrics', '--out', out], {
      GRAFANA_PROM_URL: prom.url
    })
    expect(r.code).toBe(0)
    compare(
      parseOpenMetrics(await readFile(out, 'utf8')),
      expected(() => true, SHORT_FROM)
    )
  })

  it('re-running gives the same file (replaced, not appended)', async () => {
    const out = join(work, 'again.csv')
    await writeFile(out, 'an older export\n')
    expect((await runExport([...WINDOW, '--out', out], vmEnv(vm))).code).toBe(0)
    const a = await readFile(out, 'utf8')
    expect(a).toBe(await readFile(join(work, 'victoria-metrics.csv'), 'utf8'))
  })

  it("with the BWK awk that macOS ships (Debian's original-awk), every format is byte-identical", async () => {
    const bin = await mkdtemp(join(work, 'bwk-'))
    await execFileP('ln', ['-s', '/usr/bin/original-awk', join(bin, 'awk')])
    for (const format of ['csv', 'jsonl', 'openmetrics'] as const) {
      const mawk = join(bin, `mawk.${format}`)
      const bwk = join(bin, `bwk.${format}`)
      expect((await runExport([...SHORT, '--format', format, '--out', mawk], vmEnv(vm))).code).toBe(0)
      const run = await runExport([...SHORT, '--format', format, '--out', bwk], {
        ...vmEnv(vm),
        PATH: `${bin}:${process.env.PATH}`
      })
      expect(run.code, run.stderr).toBe(0)
      expect(await readFile(bwk, 'utf8')).toBe(await readFile(mawk, 'utf8'))
    }
    const mawk = join(bin, 'mawk-bulk.csv')
    const bwk = join(bin, 'bwk-bulk.csv')
    expect((await runExport([...BULK_WINDOW, '--out', mawk], vmEnv(vm))).code).toBe(0)
    const run = await runExport([...BULK_WINDOW, '--out', bwk], { ...vmEnv(vm), PATH: `${bin}:${process.env.PATH}` })
    expect(run.code, run.stderr).toBe(0)
    expect(await readFile(bwk, 'utf8')).toBe(await readFile(mawk, 'utf8'))
  })

  it('a named pipe as --out is written to, not replaced by a file (as /dev/null would be)', async () => {
    const fifo = join(work, 'export.fifo')
    await execFileP('mkfifo', [fifo])
    const reader = readFile(fifo, 'utf8')
    expect((await runExport([...WINDOW, '--out', fifo], vmEnv(vm))).code).toBe(0)
    expect(await reader).toBe(await readFile(join(work, 'victoria-metrics.csv'), 'utf8'))
    expect(lstatSync(fifo).isFIFO()).toBe(true)
  })

  it('queries the server refuses as too large are split: by time, then series by series (Prometheus --query.max-samples)', async () => {
    const limited = await promServing(truthBlocks, ['--query.max-samples=3000'])
    // 1d window × 3 _metric series ≈ 4300 samples > 3000 → halved until it fits
    const from = TO - 3 * DAY
    const window = ['--from', String(from / 1000), '--to', String(TO / 1000)]
    const out = join(work, 'split.jsonl')
    let r = await runExport([...window, '--format', 'jsonl', '--out', out], { GRAFANA_PROM_URL: limited.url })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    compare(parseJsonl(await readFile(out, 'utf8')), expected(DEFAULT_SELECTED, from))
    // no halving allowed: one query per series and window
    r = await runExport([...window, '--min-chunk', '1d', '--format', 'csv', '--out', out], {
      GRAFANA_PROM_URL: limited.url
    })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    compare(parseCsv(await readFile(out, 'utf8')), expected(DEFAULT_SELECTED, from))
    // the plain query really is refused by this server
    const q = await fetch(
      `${limited.url}/api/v1/query?${new URLSearchParams({ query: '{__name__=~".+_metric"}[1d]', time: String(TO / 1000) })}`
    )
    expect(q.status).toBe(422)
    await q.text()
    await limited.stop()
  })
})

describe('export-metrics.sh: every size of answer goes the same way', () => {
  it('1,000 series in one answer of megabytes, differing in their label names: every sample, in each format', async () => {
    const q = await fetch(
      `${vm.url}/api/v1/query?${new URLSearchParams({ query: `{__name__="bulk_series"}[${(BULK_TO - BULK_FROM) / 1000 + 1}s]`, time: String(BULK_TO / 1000) })}`,
      {
        headers: { authorization: vm.authorization! }
      }
    )
    expect((await q.text()).length).toBeGreaterThan(3_000_000)
    for (const format of ['csv', 'jsonl', 'openmetrics'] as const) {
      const out = join(work, `bulk.${format}`)
      const r = await runExport([...BULK_WINDOW, '--format', format, '--out', out], vmEnv(vm))
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      const text = await readFile(out, 'utf8')
      compare(PARSE[format](text), bulkExpected())
      if (format === 'csv')
        expect(text.slice(0, text.indexOf('\n'))).toBe('timestamp,metric,conversationId,instance,tier,value')
    }
  }, 180_000)

  it('one 14-day window (20,160 samples per series in one answer, past the 11,000 points of a query_range) gives the same file as 1-day windows', async () => {
    const q = await fetch(
      `${vm.url}/api/v1/query?${new URLSearchParams({ query: `signup_metric[${(TO - FROM) / 1000 + 1}s]`, time: String(TO / 1000) })}`,
      {
        headers: { authorization: vm.authorization! }
      }
    )
    const answer = (await q.json()) as { data: { result: Array<{ values: unknown[] }> } }
    expect(answer.data.result[0]!.values.length).toBe(14 * 1440 + 1)
    const daily = join(work, 'daily.jsonl')
    const whole = join(work, 'whole.jsonl')
    let r = await runExport([...WINDOW, '--format', 'jsonl', '--out', daily], vmEnv(vm))
    expect(r.code).toBe(0)
    r = await runExport([...WINDOW, '--chunk', '14d', '--format', 'jsonl', '--out', whole], vmEnv(vm))
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const text = await readFile(whole, 'utf8')
    expect(text).toBe(await readFile(daily, 'utf8'))
    compare(parseJsonl(text), expected(DEFAULT_SELECTED))
  })
})

describe('export-metrics.sh: round trips', () => {
  it('openmetrics → promtool → a fresh Prometheus serves the same samples', async () => {
    const om = join(work, 'victoria-metrics.openmetrics')
    const fresh = await promFromOpenMetrics(om)
    const out = join(work, 'roundtrip-prom.jsonl')
    // everything the fresh server has: exactly the window's samples, nothing else
    const r = await runExport(
      [
        '--from',
        String(START / 1000 - 60),
        '--to',
        String(END / 1000 + 60),
        '--match',
        '{__name__=~".+"}',
        '--format',
        'jsonl',
        '--out',
        out
      ],
      {
        GRAFANA_PROM_URL: fresh.url
      }
    )
    expect(r.code).toBe(0)
    compare(parseJsonl(await readFile(out, 'utf8')), expected(DEFAULT_SELECTED))
    await fresh.stop()
  })

  it('jsonl → a fresh VictoriaMetrics /api/v1/import → the same export', async () => {
    const jsonl = await readFile(join(work, 'victoria-metrics.jsonl'), 'utf8')
    const fresh = await startVictoriaMetrics()
    started.push(fresh)
    await vmImport(fresh, jsonl)
    const out = join(work, 'roundtrip-vm.jsonl')
    const r = await runExport([...WINDOW, '--format', 'jsonl', '--out', out], vmEnv(fresh))
    expect(r.code).toBe(0)
    expect(await readFile(out, 'utf8')).toBe(jsonl)
    await fresh.stop()
  })
})

// ---------------------------------------------------------------- faults
type Fault = (n: number, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean

/** A proxy in front of `target`; `fault(n)` may answer request number n itself (returns true). */
async function startProxy(
  target: string,
  fault: Fault
): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
  let n = 0
  const t = new URL(target)
  const server: Server = createServer((req, res) => {
    n++
    if (fault(n, req, res)) return
    const up = httpRequest(
      { host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers)
        r.pipe(res)
      }
    )
    up.on('error', () => {
      res.writeHead(502)
      res.end()
    })
    req.pipe(up)
  })
  const port = await freePort()
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${port}`,
    count: () => n,
    close: () => new Promise<void>((r) => server.close(() => r()))
  }
}

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.includes('partial'))
}

describe('export-metrics.sh: faults', () => {
  it('wrong token: a clear message about metrics:read, exit ≠ 0, no file', async () => {
    const dir = await mkdtemp(join(work, 'wrong-'))
    const wrong = 'wrong-token-Zq9'
    const r = await runExport(
      [...WINDOW, '--out', join(dir, 'x.csv')],
      { ...vmEnv(vm), GRAFANA_READ_TOKEN: wrong },
      wrong
    )
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/metrics:read/)
    expect(r.stderr).toMatch(/401/)
    expect(r.stderr + r.stdout).not.toContain(wrong)
    expect(r.cmdlineHits).toBe(0)
    expect(await readdir(dir)).toEqual([])
  })

  it('server unreachable: exit ≠ 0 with a message, no file', async () => {
    const dir = await mkdtemp(join(work, 'down-'))
    const port = await freePort() // nothing listens there
    const r = await runExport([...WINDOW, '--retries', '2', '--retry-delay', '0.05', '--out', join(dir, 'x.csv')], {
      GRAFANA_PROM_URL: `http://127.0.0.1:${port}`
    })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/cannot reach/)
    expect(await readdir(dir)).toEqual([])
  })

  it('500 in the middle of the run: exit ≠ 0, the server message shown, no complete-looking file left', async () => {
    const dir = await mkdtemp(join(work, 'mid-'))
    const proxy = await startProxy(vm.url, (n, _req, res) => {
      if (n <= 6) return false
      res.writeHead(500, { 'content-type': 'application/json' })
      res.end('{"status":"error","error":"storage exploded"}')
      return true
    })
    try {
      const r = await runExport(
        [...WINDOW, '--retries', '2', '--retry-delay', '0.05', '--out', join(dir, 'x.jsonl'), '--format', 'jsonl'],
        { ...vmEnv(vm), GRAFANA_PROM_URL: proxy.url },
        vm.password
      )
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(/HTTP 500/)
      expect(r.stderr).toMatch(/storage exploded/)
      // bounded: 14 windows × 2 selectors, the 22 that failed retried twice, then it gives up
      expect(proxy.count()).toBeLessThanOrEqual(28 + 2 * 22)
      expect(await readdir(dir)).toEqual([])
      expect(r.cmdlineHits).toBe(0)
    } finally {
      await proxy.close()
    }
  })

  it('429 (Retry-After) then success: the export completes and is complete', async () => {
    const dir = await mkdtemp(join(work, 'busy-'))
    const proxy = await startProxy(vm.url, (n, _req, res) => {
      if (n !== 3 && n !== 4) return false
      res.writeHead(429, { 'retry-after': '0', 'content-type': 'text/plain' })
      res.end('slow down')
      return true
    })
    try {
      const out = join(dir, 'x.csv')
      const r = await runExport(
        [...SHORT, '--retry-delay', '0.05', '--out', out],
        { ...vmEnv(vm), GRAFANA_PROM_URL: proxy.url },
        vm.password
      )
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(r.cmdlineHits).toBe(0)
      expect(proxy.count()).toBeGreaterThan(4)
      compare(parseCsv(await readFile(out, 'utf8')), expected(DEFAULT_SELECTED, SHORT_FROM))
      expect(await leftovers(dir)).toEqual([])
    } finally {
      await proxy.close()
    }
  })

  it('answers laid out with spaces and line breaks give the same file', async () => {
    const dir = await mkdtemp(join(work, 'pretty-'))
    const proxy = await startProxy(vm.url, (_n, req, res) => {
      fetch(`${vm.url}${req.url}`, { headers: vm.authorization ? { authorization: vm.authorization } : {} })
        .then(async (r) => {
          const text = await r.text()
          res.writeHead(r.status, { 'content-type': 'application/json' })
          res.end(r.status === 200 ? `${JSON.stringify(JSON.parse(text), null, 1)}\n` : text)
        })
        .catch(() => {
          res.writeHead(502)
          res.end()
        })
      return true
    })
    try {
      for (const format of ['csv', 'openmetrics'] as const) {
        const out = join(dir, `x.${format}`)
        const r = await runExport([...WINDOW, '--format', format, '--out', out], { GRAFANA_PROM_URL: proxy.url })
        expect(r.stderr).toBe('')
        expect(r.code).toBe(0)
        expect(await readFile(out, 'utf8')).toBe(await readFile(join(work, `victoria-metrics.${format}`), 'utf8'))
      }
    } finally {
      await proxy.close()
    }
  })

  it('an answer whose samples are not [time, "value"] pairs (a number where Prometheus writes a string) is refused: exit ≠ 0, no file', async () => {
    const dir = await mkdtemp(join(work, 'bad-'))
    const proxy = await startProxy(vm.url, (_n, req, res) => {
      fetch(`${vm.url}${req.url}`, { headers: vm.authorization ? { authorization: vm.authorization } : {} })
        .then(async (r) => {
          const text = await r.text()
          res.writeHead(r.status, { 'content-type': 'application/json' })
          res.end(text.replace(/,"([0-9.]+)"\]/, ',$1]'))
        })
        .catch(() => {
          res.writeHead(502)
          res.end()
        })
      return true
    })
    try {
      const r = await runExport([...SHORT, '--out', join(dir, 'x.csv')], { GRAFANA_PROM_URL: proxy.url })
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(/not \[\[time, "value"\], \.\.\.\]/)
      expect(await readdir(dir)).toEqual([])
    } finally {
      await proxy.close()
    }
  })

  it('refuses a token on the command line, and credentials in the URL', async () => {
    let r = await runExport(['--token', 'abc'], {})
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/GRAFANA_READ_TOKEN/)
    r = await runExport(['--url', 'https://u:p@example.invalid/api/prom'], {})
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/credentials/)
  })

  it('--token-file works like the environment variable', async () => {
    const dir = await mkdtemp(join(work, 'tf-'))
    const tf = join(dir, 'token')
    await writeFile(tf, `${vm.password}\n`, { mode: 0o600 })
    const out = join(dir, 'x.csv')
    const r = await runExport(
      [...SHORT, '--token-file', tf, '--out', out],
      { GRAFANA_PROM_URL: vm.url, GRAFANA_USER_ID: vm.username },
      vm.password
    )
    expect(r.code).toBe(0)
    expect(r.cmdlineHits).toBe(0)
    compare(parseCsv(await readFile(out, 'utf8')), expected(DEFAULT_SELECTED, SHORT_FROM))
  })
})
