/**
 * 4. Export: scripts/export-metrics.sh (whatever is in the tree) on 14 days of one sample per
 * 60 s, at 100 and at 1,000 series, against the query-API floor: curl alone making the very
 * requests the script makes (learnt by running the script once through a recording proxy),
 * answers discarded. Time and peak memory of the whole process tree.
 */
import { createReadStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { startVictoriaMetrics, type VictoriaMetrics } from '../dev/servers'
import { benchScript, exportRows, requireExportTools, type ScriptBenchResult } from './lib/export-bench'
import type { Row, Section } from './lib/report'
import { mib } from './lib/stats'

const SCRIPT = resolve(__dirname, '..', 'scripts', 'export-metrics.sh')
const MIN = 60_000
const SAMPLES_PER_SERIES = 14 * 1440
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

interface SizeResult extends ScriptBenchResult<Format> {
  readonly series: number
  readonly rounds: number
}

const measureSize = async (series: number, rounds: number, dir: string): Promise<SizeResult> => {
  const vm = await startVictoriaMetrics()
  try {
    const { from, to } = await importData(vm, series)
    const expected = series * SAMPLES_PER_SERIES
    const result = await benchScript({
      script: SCRIPT,
      server: vm,
      formats: FORMATS,
      from,
      to,
      rounds,
      dir,
      check: async (file, format) => {
        const samples = await countSamples(file, format)
        if (samples !== expected)
          throw new Error(`export ${format} of ${series} series: ${samples} samples, expected ${expected}`)
      }
    })
    return { series, rounds, ...result }
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
    const rows: Row[] = results.flatMap((result) => exportRows(`${result.series.toLocaleString('en')} series`, result))
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
