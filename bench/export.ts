/**
 * 4. Export: scripts/export-metrics.sh against VictoriaMetrics' own /api/v1/export (curl) of the
 * same data: 14 days × 100 series at one sample per 60 s, imported through /api/v1/import.
 * Both run under /usr/bin/time -v; the bench also samples the summed RSS of the whole process
 * tree (the script runs curl, jq and sort, partly at the same time).
 */
import { spawn } from 'node:child_process'
import { createReadStream, existsSync, readFileSync } from 'node:fs'
import { descendants } from '../test/helpers/processes'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { startVictoriaMetrics, type VictoriaMetrics } from '../test/helpers/servers'
import { verdict, type Row, type Section } from './lib/report'
import { median, mib, now, p99, ratio, sleep } from './lib/stats'

export const SCRIPT = resolve(__dirname, '..', 'scripts', 'export-metrics.sh')
const TIME = '/usr/bin/time'
const MIN = 60_000
const SERIES = 100
const SAMPLES_PER_SERIES = 14 * 1440
const TIME_TARGET = 3
const RSS_TARGET = 100 * 1024 * 1024
export const FORMATS = ['csv', 'jsonl', 'openmetrics'] as const
type Format = (typeof FORMATS)[number]
export const SELECTOR = '{__name__=~".+_metric"}'

interface Run {
  readonly wallMs: number
  /** "Maximum resident set size" of /usr/bin/time -v: the largest single process of the tree. */
  readonly maxRssBytes: number
  /** The largest sum of VmRSS over the process tree seen by sampling every 20 ms. */
  readonly treeRssBytes: number
  readonly outBytes: number
  readonly samples: number
}


const rssOf = (pid: number): number => {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/mu.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** Runs `command` under /usr/bin/time -v; returns wall time, time's max RSS and the sampled tree RSS. */
const timed = async (command: string[], env: Record<string, string>, timeFile: string): Promise<Omit<Run, 'outBytes' | 'samples'>> => {
  const start = now()
  const child = spawn(TIME, ['-v', '-o', timeFile, ...command], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  let done = false
  const closed = new Promise<number | null>((r) => child.on('close', (code) => ((done = true), r(code))))
  const killer = setTimeout(() => child.kill('SIGKILL'), 300_000)
  let treeRss = 0
  while (!done) {
    const pids = descendants(child.pid!).slice(1) // not /usr/bin/time itself
    treeRss = Math.max(treeRss, pids.reduce((sum, p) => sum + rssOf(p), 0))
    await sleep(20)
  }
  const code = await closed
  const wallMs = now() - start
  clearTimeout(killer)
  if (code !== 0) throw new Error(`${command.join(' ')} exited ${code}: ${stderr}`)
  const report = await readFile(timeFile, 'utf8')
  const kb = /Maximum resident set size \(kbytes\): (\d+)/u.exec(report)
  return { wallMs, maxRssBytes: Number(kb?.[1] ?? 0) * 1024, treeRssBytes: treeRss }
}

const countSamples = async (file: string, format: Format | 'vm'): Promise<number> => {
  let n = 0
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity })
  let first = true
  for await (const line of lines) {
    if (format === 'csv') {
      if (!first && line !== '') n++
    } else if (format === 'openmetrics') {
      if (line !== '' && !line.startsWith('#')) n++
    } else if (line !== '') {
      n += (JSON.parse(line) as { values: unknown[] }).values.length
    }
    first = false
  }
  return n
}

/** 100 series (5 metric names × 20 conversations), 20,160 samples each, ending 10 minutes ago. */
export const importData = async (vm: VictoriaMetrics): Promise<{ from: number; to: number }> => {
  const end = Math.floor(Date.now() / MIN) * MIN - 10 * MIN
  const start = end - (SAMPLES_PER_SERIES - 1) * MIN
  const timestamps = Array.from({ length: SAMPLES_PER_SERIES }, (_, i) => start + i * MIN)
  const lines: string[] = []
  for (let s = 0; s < SERIES; s++) {
    const metric = {
      __name__: `bench_event_${s % 5}_metric`,
      channel: s % 3 === 0 ? 'whatsapp' : 'webchat',
      botId: 'bot-4f1c9e2a',
      conversationId: `conv_${String(s).padStart(4, '0')}`,
      userId: `user_${String((s * 37) % 100).padStart(4, '0')}`,
      version: `1.${s % 4}.0`,
    }
    const values = timestamps.map((_, i) => (s % 2 === 0 ? 1 : Math.round(((i * 7 + s) % 1000) * 1.25 * 100) / 100))
    lines.push(JSON.stringify({ metric, values, timestamps }))
  }
  const res = await fetch(`${vm.url}/api/v1/import`, {
    method: 'POST',
    headers: { authorization: vm.authorization! },
    body: lines.join('\n'),
  })
  if (res.status !== 204) throw new Error(`import: HTTP ${res.status} ${await res.text()}`)
  await vm.flush()
  // (from, to] in seconds covers every sample: from is 30 s before the first one.
  return { from: start / 1000 - 30, to: end / 1000 }
}

export interface ExportOptions {
  readonly rounds: number
}

export const runExport = async (options: ExportOptions): Promise<Section> => {
  for (const [bin, pkg] of [
    [TIME, 'time'],
    ['/usr/bin/curl', 'curl'],
    ['/usr/bin/jq', 'jq'],
  ] as const) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: install the Debian package "${pkg}" (apt-get install ${pkg}; .ci/run does).`)
  }
  if (!existsSync(SCRIPT)) throw new Error(`${SCRIPT} is missing`)
  const dir = await mkdtemp(join(tmpdir(), 'bench-export-'))
  const vm = await startVictoriaMetrics({ auth: true })
  try {
    const { from, to } = await importData(vm)
    const tokenFile = join(dir, 'token')
    await writeFile(tokenFile, `${vm.password}\n`, { mode: 0o600 })
    const curlConfig = join(dir, 'curl.cfg')
    await writeFile(curlConfig, `user = "${vm.username}:${vm.password}"\n`, { mode: 0o600 })
    const expected = SERIES * SAMPLES_PER_SERIES

    const runScript = async (format: Format): Promise<Run> => {
      const out = join(dir, `export.${format}`)
      const t = await timed(
        ['bash', SCRIPT, '--url', vm.url, '--user', vm.username, '--token-file', tokenFile, '--match', SELECTOR,
          '--from', String(from), '--to', String(to), '--format', format, '--out', out, '--quiet'],
        {},
        join(dir, 'time.txt')
      )
      const samples = await countSamples(out, format)
      const outBytes = (await stat(out)).size
      await rm(out, { force: true })
      return { ...t, samples, outBytes }
    }
    const runVm = async (): Promise<Run> => {
      const out = join(dir, 'vm-export.jsonl')
      const t = await timed(
        ['curl', '-sS', '--fail', '-K', curlConfig, '-o', out, `${vm.url}/api/v1/export`,
          '--data-urlencode', `match[]=${SELECTOR}`, '--data-urlencode', `start=${from}`, '--data-urlencode', `end=${to}`],
        {},
        join(dir, 'time.txt')
      )
      const samples = await countSamples(out, 'vm')
      const outBytes = (await stat(out)).size
      await rm(out, { force: true })
      return { ...t, samples, outBytes }
    }

    // The query-API floor: the requests the script's default 1-day windows make, with curl only
    // (no jq): what fetching the same samples through the Prometheus API costs by itself.
    const windows: string[] = []
    for (let s = from; s < to; s += 86_400) windows.push(`${s} ${Math.min(s + 86_400, to)}`)
    const queryLoop =
      'while read -r s e; do curl -sS --fail -K "$CFG" -o /dev/null "$URL/api/v1/query" ' +
      '--data-urlencode "query=$SEL[$((e - s + 1))s]" --data-urlencode "time=$e" || exit 1; done <<EOF\n' +
      `${windows.join('\n')}\nEOF`
    const runQueries = async (): Promise<Run> => ({
      ...(await timed(['bash', '-c', queryLoop], { CFG: curlConfig, URL: vm.url, SEL: SELECTOR }, join(dir, 'time.txt'))),
      samples: expected,
      outBytes: 0,
    })

    await runVm() // warm VictoriaMetrics' caches for both sides
    const queries: Run[] = []
    const script = new Map<Format, Run[]>(FORMATS.map((f) => [f, []]))
    const base = new Map<Format, Run[]>(FORMATS.map((f) => [f, []]))
    for (let round = 0; round < options.rounds; round++) {
      for (const format of FORMATS) {
        if (round % 2 === 0) {
          script.get(format)!.push(await runScript(format))
          base.get(format)!.push(await runVm())
        } else {
          base.get(format)!.push(await runVm())
          script.get(format)!.push(await runScript(format))
        }
      }
      queries.push(await runQueries())
    }
    for (const [format, runs] of [...script, ...[...base].map(([f, r]): [string, Run[]] => [`vm (${f})`, r])]) {
      for (const r of runs) {
        if (r.samples !== expected) throw new Error(`${format}: exported ${r.samples} samples, expected ${expected}`)
      }
    }

    const rows: Row[] = []
    const sizes: string[] = []
    for (const format of FORMATS) {
      const s = script.get(format)!
      const b = base.get(format)!
      const wall = (runs: Run[]) => runs.map((r) => r.wallMs)
      const rMed = median(wall(s)) / median(wall(b))
      const rP99 = p99(wall(s)) / p99(wall(b))
      const secs = (x: number) => `${(x / 1000).toFixed(2)} s`
      rows.push({
        figure: `Export ${format}: time, median (p99)`,
        ours: `${secs(median(wall(s)))} (${secs(p99(wall(s)))})`,
        floor: `${secs(median(wall(b)))} (${secs(p99(wall(b)))})`,
        ratio: `${ratio(rMed)} (${ratio(rP99)})`,
        target: `≤ ${TIME_TARGET}`,
        verdict: verdict(rMed <= TIME_TARGET && rP99 <= TIME_TARGET),
      })
      const maxRss = Math.max(...s.map((r) => r.maxRssBytes))
      const treeRss = Math.max(...s.map((r) => r.treeRssBytes))
      rows.push({
        figure: `Export ${format}: peak RSS (time -v largest process; tree sum sampled)`,
        ours: `${mib(maxRss)}; tree ${mib(treeRss)}`,
        floor: `${mib(Math.max(...b.map((r) => r.maxRssBytes)))}`,
        ratio: '—',
        target: `≤ ${mib(RSS_TARGET)}`,
        verdict: verdict(Math.max(maxRss, treeRss) <= RSS_TARGET),
      })
      sizes.push(`${format} ${mib(s[0]!.outBytes)}`)
    }
    const qMed = median(queries.map((r) => r.wallMs))
    rows.push({
      figure: `Query-API floor: the script's ${windows.length} window queries with curl alone (info)`,
      ours: '—',
      floor: `${(qMed / 1000).toFixed(2)} s`,
      ratio: FORMATS.map((f) => `${f} ${ratio(median(script.get(f)!.map((r) => r.wallMs)) / qMed)}`).join(', '),
      target: '—',
      verdict: 'info',
    })
    sizes.push(`VictoriaMetrics JSON lines ${mib(base.get('csv')![0]!.outBytes)}`)
    return {
      title: '4. Export',
      rows,
      notes: [
        `Data: ${SERIES} series × ${SAMPLES_PER_SERIES.toLocaleString('en')} samples (14 days at one per 60 s) = ` +
          `${expected.toLocaleString('en')} samples, imported into a local VictoriaMetrics (Basic auth on) through ` +
          '`/api/v1/import`, then flushed. Every run of both sides is checked to contain exactly these samples.',
        `**Ours**: \`bash scripts/export-metrics.sh --url <vm> --user <u> --token-file <f> --match '${SELECTOR}' --from <s> ` +
          '--to <s> --format <fmt> --out <file> --quiet` (as committed: default 1-day windows fetched as instant queries of a ' +
          'range selector with curl, reshaped with jq, `sort`, then a jq pass that writes the format). **Floor**: `curl -sS -K <auth config> -o <file> ' +
          `<vm>/api/v1/export --data-urlencode 'match[]=${SELECTOR}' start=<s> end=<s>\` — VictoriaMetrics' native export ` +
          '(JSON lines) of the same samples. Both under `/usr/bin/time -v`; wall time from spawn to exit, measured by the bench.',
        `${options.rounds} rounds; in each round every format runs next to its own floor run (order alternating by round), ` +
          'after one discarded floor run. With so few rounds, p99 is the slowest run.',
        '**Peak RSS**: `time -v` reports the largest resident set of any single process of the tree (Linux `ru_maxrss` of the ' +
          'children); the bench also samples `VmRSS` of every process in the tree every 20 ms and keeps the largest sum, which ' +
          'covers pipelines where several processes are alive at once. The target is checked against the larger of the two.',
        '**Query-API floor** (info row): the script cannot use `/api/v1/export` (Grafana Cloud only offers the Prometheus query ' +
          `API), so the bench also times the ${windows.length} requests its default 1-day windows make — \`/api/v1/query\` of ` +
          '`<selector>[86401s]` at each window end — with curl alone, answers discarded. The ratios in that row are the ' +
          "script's median time over this floor: what its own processing (jq, sort, formatting) adds to fetching the data.",
        `Output sizes: ${sizes.join(', ')}.`,
      ],
    }
  } finally {
    await vm.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
