/**
 * 4. Export: scripts/export-metrics.sh (whatever is in the tree) on 14 days of one sample per
 * 60 s, at 100 and at 1,000 series, against the query-API floor: curl alone making the very
 * requests the script makes (learnt by running the script once through a recording proxy),
 * answers discarded. Time and peak memory of the whole process tree.
 */
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { startProxy, type ProxiedRequest } from '../dev/proxy'
import { startVictoriaMetrics, type VictoriaMetrics } from '../dev/servers'
import { verdict, type Row, type Section } from './lib/report'
import { median, mib, p99, ratio } from './lib/stats'
import { curlConfig, requireExportTools, timed, type Run } from './lib/timed'

const SCRIPT = resolve(__dirname, '..', 'scripts', 'export-metrics.sh')
const MIN = 60_000
const SAMPLES_PER_SERIES = 14 * 1440
const TIME_TARGET = 2
const RSS_TARGET = 100 * 1024 * 1024
const FORMATS = ['csv', 'jsonl', 'openmetrics'] as const
type Format = (typeof FORMATS)[number]

export interface ExportOptions {
  /** Series to export, and how many rounds at that size. */
  readonly sizes: ReadonlyArray<{ readonly series: number; readonly rounds: number }>
}

/** Samples in an export file: data lines (csv: after the header; openmetrics: not comments), jsonl: values. */
const countSamples = async (file: string, format: Format): Promise<number> => {
  let n = 0
  let pending = ''
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const lines = (pending + (chunk as string)).split('\n')
    pending = lines.pop()!
    for (const line of lines) {
      if (line === '') continue
      if (format === 'jsonl') n += (JSON.parse(line) as { values: unknown[] }).values.length
      else if (format === 'csv' || !line.startsWith('#')) n++
    }
  }
  if (pending !== '') throw new Error(`${file} does not end with a newline`)
  return format === 'csv' ? n - 1 : n
}

/** `series` Send Metric series, one sample per minute for 14 days ending 10 minutes ago. */
const importData = async (vm: VictoriaMetrics, series: number): Promise<{ from: number; to: number }> => {
  const end = Math.floor(Date.now() / MIN) * MIN - 10 * MIN
  const start = end - (SAMPLES_PER_SERIES - 1) * MIN
  const timestamps = Array.from({ length: SAMPLES_PER_SERIES }, (_, i) => start + i * MIN)
  for (let first = 0; first < series; first += 50) {
    const lines: string[] = []
    for (let s = first; s < Math.min(series, first + 50); s++) {
      const metric = {
        __name__: `bench_event_${s % 5}_metric`,
        botId: 'bot-4f1c9e2a',
        channel: s % 3 === 0 ? 'whatsapp' : 'webchat',
        conversationId: `conv_${String(s).padStart(4, '0')}`,
        userId: `user_${String((s * 37) % 1000).padStart(4, '0')}`,
        version: `1.${s % 4}.0`
      }
      const values = timestamps.map((_, i) => (s % 2 === 0 ? 1 : Math.round(((i * 7 + s) % 1000) * 1.25 * 100) / 100))
      lines.push(JSON.stringify({ metric, values, timestamps }))
    }
    const res = await fetch(`${vm.url}/api/v1/import`, {
      method: 'POST',
      headers: { authorization: vm.authorization! },
      body: lines.join('\n')
    })
    if (res.status !== 204) throw new Error(`import: HTTP ${res.status} ${await res.text()}`)
  }
  await vm.flush()
  // The script's --from is exclusive: start 30 s before the first sample.
  return { from: start / 1000 - 30, to: end / 1000 }
}

interface SizeResult {
  readonly series: number
  readonly rounds: number
  readonly requests: number
  readonly script: Map<Format, Run[]>
  readonly floor: Run[]
  readonly outBytes: Map<Format, number>
}

const measureSize = async (series: number, rounds: number, dir: string): Promise<SizeResult> => {
  const vm = await startVictoriaMetrics()
  try {
    const { from, to } = await importData(vm, series)
    const expected = series * SAMPLES_PER_SERIES
    const tokenFile = join(dir, 'token')
    await writeFile(tokenFile, `${vm.password}\n`, { mode: 0o600 })
    const scriptArgs = (url: string, format: Format, out: string) => [
      'bash',
      SCRIPT,
      '--url',
      url,
      '--user',
      vm.username,
      '--token-file',
      tokenFile,
      '--from',
      String(from),
      '--to',
      String(to),
      '--format',
      format,
      '--out',
      out,
      '--quiet'
    ]

    // The requests the script makes, learnt from one run through a recording proxy (which also warms VictoriaMetrics).
    const requests: ProxiedRequest[] = []
    const recorder = await startProxy(vm.url, { onRequest: (r) => requests.push(r) })
    try {
      await timed(scriptArgs(recorder.url, 'csv', join(dir, 'recorded.csv')), '', dir)
    } finally {
      await recorder.close()
      await rm(join(dir, 'recorded.csv'), { force: true })
    }
    const config = await curlConfig(vm, requests, dir)

    const script = new Map<Format, Run[]>(FORMATS.map((f) => [f, []]))
    const outBytes = new Map<Format, number>()
    const floor: Run[] = []
    const runScript = async (format: Format) => {
      const out = join(dir, `export.${format}`)
      script.get(format)!.push(await timed(scriptArgs(vm.url, format, out), '', dir))
      const samples = await countSamples(out, format)
      if (samples !== expected)
        throw new Error(`export ${format} of ${series} series: ${samples} samples, expected ${expected}`)
      outBytes.set(format, (await stat(out)).size)
      await rm(out, { force: true })
    }
    const runFloor = async () => floor.push(await timed(['curl', '-q', '-K', '-'], config, dir))
    for (let round = 0; round < rounds; round++) {
      for (const format of FORMATS) {
        if (round % 2 === 0) {
          await runScript(format)
          await runFloor()
        } else {
          await runFloor()
          await runScript(format)
        }
      }
    }
    return { series, rounds, requests: requests.length, script, floor, outBytes }
  } finally {
    await vm.stop()
  }
}

export const runExport = async (options: ExportOptions): Promise<Section> => {
  requireExportTools()
  const dir = await mkdtemp(join(tmpdir(), 'bench-export-'))
  try {
    const results: SizeResult[] = []
    for (const { series, rounds } of options.sizes) results.push(await measureSize(series, rounds, dir))
    const secs = (x: number) => `${(x / 1000).toFixed(2)} s`
    const wall = (runs: Run[]) => runs.map((r) => r.wallMs)
    const rows: Row[] = results.flatMap(({ series, script, floor }) =>
      FORMATS.flatMap((format): Row[] => {
        const runs = script.get(format)!
        const r = median(wall(runs)) / median(wall(floor))
        const peak = Math.max(...runs.map((x) => x.peakRssBytes))
        return [
          {
            figure: `${series.toLocaleString('en')} series, ${format}: time, median (p99)`,
            ours: `${secs(median(wall(runs)))} (${secs(p99(wall(runs)))})`,
            floor: `${secs(median(wall(floor)))} (${secs(p99(wall(floor)))})`,
            ratio: ratio(r),
            target: `≤ ${TIME_TARGET}`,
            verdict: verdict(r <= TIME_TARGET)
          },
          {
            figure: `${series.toLocaleString('en')} series, ${format}: peak RSS`,
            ours: mib(peak),
            floor: mib(Math.max(...floor.map((x) => x.peakRssBytes))),
            ratio: '—',
            target: `≤ ${mib(RSS_TARGET)}`,
            verdict: verdict(peak <= RSS_TARGET)
          }
        ]
      })
    )
    return {
      title: '4. Export',
      rows,
      notes: [
        `Data: ${results.map((r) => r.series.toLocaleString('en')).join(' and ')} Send Metric series × ` +
          `${SAMPLES_PER_SERIES.toLocaleString('en')} samples (14 days at one per 60 s), imported into a local VictoriaMetrics ` +
          '(Basic auth on) through `/api/v1/import`. Every run of the script is checked to export exactly these samples.',
        '**Ours**: `bash scripts/export-metrics.sh --url <vm> --user <u> --token-file <f> --from <s> --to <s> --format <fmt> ' +
          '--out <file> --quiet` (default selectors and windows). **Query-API floor**: the script is first run once through a ' +
          `recording proxy; one \`curl\` process then makes the same requests (${results.map((r) => `${r.requests} at ${r.series.toLocaleString('en')} series`).join(', ')}: ` +
          'same method, path, query, body and Accept headers) one after another, answers to /dev/null, its config on stdin. ' +
          'Both under `/usr/bin/time -v`; wall time from spawn to exit.',
        `Rounds: ${results.map((r) => `${r.rounds} at ${r.series.toLocaleString('en')} series`).join(', ')}; in each every ` +
          'format runs next to a floor run (which goes first flips every round); p99 is the slowest run at these counts. The ' +
          "floor's figures at one size are over all its runs at that size.",
        "**Peak RSS**: the larger of `time -v`'s maximum resident set (the largest single process of the tree) and the " +
          'largest sum of `VmRSS` over every process of the tree, sampled every 20 ms (pipelines run several at once).',
        `Output sizes: ${results.map((r) => `${r.series.toLocaleString('en')} series: ${FORMATS.map((f) => `${f} ${mib(r.outBytes.get(f)!)}`).join(', ')}`).join('; ')}.`
      ]
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
