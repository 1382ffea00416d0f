/**
 * 6. Log export: scripts/export-logs.sh (whatever is in the tree) on 14 days of log lines in the
 * Loki stand-in (dev/loki.ts), in both formats, against the query-API floor: curl alone making
 * the very requests the script makes (learnt by running the script once through a recording
 * proxy), answers discarded. Time and peak memory of the whole process tree.
 */
import { createReadStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { startLoki, type Loki } from '../dev/loki'
import { SERVICE_NAME } from '../src/loki'
import { benchScript, exportRows, requireExportTools, type ScriptBenchResult } from './lib/export-bench'
import type { Section } from './lib/report'
import { mib } from './lib/stats'

const SCRIPT = resolve(__dirname, '..', 'scripts', 'export-logs.sh')
const DAYS = 14
const FORMATS = ['jsonl', 'push'] as const
type Format = (typeof FORMATS)[number]

export interface LogExportOptions {
  /** Lines over the 14 days, and how many rounds. */
  readonly lines: number
  readonly rounds: number
}

const BOTS = ['bot-4f1c9e2a', 'bot-77d0b3c1', 'bot-0a9e5f12']
const CHANNELS = ['webchat', 'whatsapp']
const VERSIONS = ['1.4.0', '1.5.0']
const EVENTS = ['flow_completed', 'handoff', 'llm_call', 'message_received']

/**
 * `lines` lines as the cards write them, spread evenly over 14 days ending 10 minutes ago: 12
 * streams (3 bots × 2 channels × 2 versions), a JSON line, five metadata fields. Loaded in
 * batches so that the stand-in never holds a second copy of them all.
 */
const loadHistory = (loki: Loki, lines: number): { from: number; to: number } => {
  const endMs = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000
  const startMs = endMs - DAYS * 86_400_000
  const spanMs = endMs - startMs
  const batch = 50_000
  for (let first = 0; first < lines; first += batch) {
    const streams = new Map<
      string,
      { stream: Record<string, string>; values: Array<[bigint, string, Record<string, string>]> }
    >()
    for (let i = first; i < Math.min(lines, first + batch); i++) {
      const stream = {
        service_name: SERVICE_NAME,
        botId: BOTS[i % BOTS.length]!,
        channel: CHANNELS[(i >> 2) % CHANNELS.length]!,
        version: VERSIONS[(i >> 4) % VERSIONS.length]!
      }
      const key = JSON.stringify(stream)
      if (!streams.has(key)) streams.set(key, { stream, values: [] })
      const event = EVENTS[i % EVENTS.length]!
      const ts = BigInt(startMs + Math.floor((i * spanMs) / lines) + 1) * 1_000_000n
      const line = JSON.stringify({
        level: i % 50 === 0 ? 'error' : 'info',
        message: `${event} in conversation ${i % 9973}`,
        instance: 'k3x9q0m2z7a1b'
      })
      streams.get(key)!.values.push([
        ts,
        line,
        {
          card: 'sendLog',
          event,
          conversationId: `conv_${String(i % 9973).padStart(4, '0')}`,
          userId: `user_${String((i * 37) % 1000).padStart(4, '0')}`,
          attempt: String(i % 3)
        }
      ])
    }
    loki.load([...streams.values()])
  }
  if (loki.counts().stored !== lines) throw new Error(`the stand-in holds ${loki.counts().stored} lines, not ${lines}`)
  // The script's --from is exclusive: start a second before the first line.
  return { from: Math.floor(startMs / 1000) - 1, to: Math.ceil(endMs / 1000) }
}

/** Lines in an export file: jsonl, one per line; push, the values of each stream line. */
const countLines = async (file: string, format: Format): Promise<number> => {
  let n = 0
  let pending = ''
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const rows = (pending + (chunk as string)).split('\n')
    pending = rows.pop()!
    for (const row of rows) {
      if (format === 'jsonl') {
        if (row !== '') n++
      } else if (row !== '{"streams":[' && row !== ']}') {
        n += (JSON.parse(row.replace(/,$/u, '')) as { values: unknown[] }).values.length
      }
    }
  }
  if (pending !== '') throw new Error(`${file} does not end with a newline`)
  return n
}

const measure = async (
  options: LogExportOptions,
  dir: string
): Promise<ScriptBenchResult<Format> & { loadMs: number }> => {
  const loki = await startLoki()
  try {
    const loadStart = Date.now()
    const { from, to } = loadHistory(loki, options.lines)
    const loadMs = Date.now() - loadStart
    const result = await benchScript({
      script: SCRIPT,
      server: loki,
      formats: FORMATS,
      from,
      to,
      rounds: options.rounds,
      dir,
      check: async (file, format) => {
        const lines = await countLines(file, format)
        if (lines !== options.lines) throw new Error(`export ${format}: ${lines} lines, expected ${options.lines}`)
      }
    })
    return { ...result, loadMs }
  } finally {
    await loki.stop()
  }
}

export const runLogExport = async (options: LogExportOptions): Promise<Section> => {
  requireExportTools()
  const dir = await mkdtemp(join(tmpdir(), 'bench-export-logs-'))
  try {
    const result = await measure(options, dir)
    const { requests, outBytes, loadMs } = result
    const size = options.lines.toLocaleString('en')
    const rows = exportRows(`${size} lines`, result)
    return {
      title: '6. Log export',
      rows,
      notes: [
        `Data: ${size} lines over ${DAYS} days in 12 streams, each line the JSON a card writes with five structured ` +
          'metadata fields, loaded into the Loki stand-in (dev/loki.ts; Basic auth on, the same process as the benchmark) ' +
          `in ${(loadMs / 1000).toFixed(1)} s. Every run of the script is checked to export exactly these lines.`,
        '**Ours**: `bash scripts/export-logs.sh --url <loki> --user <u> --token-file <f> --from <s> --to <s> --format <fmt> ' +
          '--out <file> --quiet` (default query, 1-day windows, pages of 5,000 lines). **Query-API floor**: the script is ' +
          `first run once through a recording proxy; one \`curl\` process then makes the same ${requests} requests ` +
          '(same path, query and headers) one after another, answers to /dev/null, its config on stdin. Both under ' +
          '`/usr/bin/time -v`; wall time from spawn to exit. The stand-in answers on loopback: against Grafana Cloud the ' +
          "network and Loki's query time add to both sides.",
        `Rounds: ${options.rounds}; in each, every format runs next to a floor run (which goes first flips every round).`,
        "**Peak RSS**: the larger of `time -v`'s maximum resident set (the largest single process of the tree) and the " +
          'largest sum of `VmRSS` over every process of the tree, sampled every 20 ms.',
        `Output sizes: ${FORMATS.map((f) => `${f} ${mib(outBytes.get(f)!)}`).join(', ')}.`
      ]
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
