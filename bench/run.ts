/**
 * `npm run bench` (after `bp build`): what the integration costs a bot, against the floor,
 * interleaved in one run. Prints a table and writes bench/RESULTS.md.
 *
 *   npm run bench                              # everything, writes bench/RESULTS.md
 *   npm run bench -- --only latency,throughput # some sections, printed only
 *   npm run bench -- --only logs --quick       # Send Log and the trail, small sizes, printed only
 *   npm run bench -- --quick                   # small sizes for a smoke run, printed only
 *
 * Needs the Debian packages victoria-metrics, curl, jq and time; .ci/run installs them. Every
 * server and child process it starts is stopped by PID, also on error.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { BUNDLE } from '../dev/integration-process'
import { runColdStart } from './cold-start'
import { runExport } from './export'
import { runLogExport } from './export-logs'
import { runLatency } from './latency'
import { describeMachine } from './lib/machine'
import type { Section } from './lib/report'
import { buildSdkFloor } from './lib/sdk-floor'
import { startStage } from './lib/stage'
import { now } from './lib/stats'
import { runLogs } from './logs'
import { runThroughput } from './throughput'
import { runValidation } from './validation'

const SECTIONS = ['latency', 'throughput', 'cold', 'export', 'validation', 'logs', 'export-logs'] as const
type SectionName = (typeof SECTIONS)[number]

const parseArgs = (argv: string[]): { only: Set<SectionName>; quick: boolean } => {
  let only = new Set<SectionName>(SECTIONS)
  let quick = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--quick') quick = true
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const list = arg.includes('=') ? arg.slice('--only='.length) : (argv[++i] ?? '')
      const names = list.split(',').filter(Boolean)
      for (const name of names) {
        if (!(SECTIONS as readonly string[]).includes(name))
          throw new Error(`unknown section ${name}: use ${SECTIONS.join(', ')}`)
      }
      only = new Set(names as SectionName[])
    } else if (arg === '-h' || arg === '--help') {
      console.log(`usage: npm run bench -- [--only ${SECTIONS.join(',')}] [--quick]`)
      process.exit(0)
    } else throw new Error(`unknown option ${arg}`)
  }
  return { only, quick }
}

const preflight = (only: Set<SectionName>): void => {
  const vmBin = process.env.VICTORIA_METRICS_BIN ?? '/usr/bin/victoria-metrics'
  if ([...only].some((name) => name !== 'export-logs') && !existsSync(vmBin)) {
    throw new Error(
      `${vmBin} is missing: the benchmarks run a local VictoriaMetrics. Install the Debian package ` +
        '"victoria-metrics" (apt-get install victoria-metrics; .ci/run installs it with the other servers), ' +
        'or point VICTORIA_METRICS_BIN at the binary.'
    )
  }
  if ([...only].some((name) => name !== 'export' && name !== 'export-logs') && !existsSync(BUNDLE)) {
    throw new Error(`${BUNDLE} is missing: run \`npm run build\` (npm run bench builds first).`)
  }
}

/** The commit measured, and which measured paths differ from it in the working tree. */
const revision = (): string => {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: join(__dirname, '..'), encoding: 'utf8' }).trimEnd()
    const head = git('rev-parse', '--short', 'HEAD').trim()
    const dirty = git(
      'status',
      '--porcelain',
      '--',
      'src',
      'scripts/export-metrics.sh',
      'scripts/export-logs.sh',
      'dev/loki.ts',
      'dev/loki',
      'integration.definition.ts',
      'package.json',
      'bench'
    )
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3))
    return dirty.length === 0 ? `${head} (clean)` : `${head} + uncommitted changes in ${dirty.join(', ')}`
  } catch {
    return 'unknown (not a git checkout)'
  }
}

const pad = (text: string, width: number): string => text + ' '.repeat(Math.max(0, width - [...text].length))

const consoleTable = (sections: Section[]): string => {
  const header = ['Figure', 'Ours', 'Floor / reference', 'Ratio', 'Target', 'Result']
  const rows = sections.flatMap((s) => s.rows.map((r) => [r.figure, r.ours, r.floor, r.ratio, r.target, r.verdict]))
  const widths = header.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...r[i]!].length)))
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!)).join(' │ ')
  const out: string[] = [line(header), widths.map((w) => '─'.repeat(w)).join('─┼─')]
  for (const section of sections) {
    out.push(`${section.title}`)
    for (const r of section.rows) out.push(line([r.figure, r.ours, r.floor, r.ratio, r.target, r.verdict]))
  }
  return out.join('\n')
}

const cell = (text: string): string => text.replaceAll('|', '\\|')

const markdown = (
  sections: Section[],
  meta: { date: string; seconds: number; load: [string, string]; revision: string }
): string => {
  const m = describeMachine()
  const parts = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (bench/run.ts); do not edit by hand — rerun it when code on a measured path changes. ' +
      'What the numbers say: [FINDINGS.md](FINDINGS.md).',
    '',
    `- Date: ${meta.date} (whole run ${meta.seconds.toFixed(0)} s); code: ${meta.revision}`,
    `- CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memory}`,
    `- Node ${m.node}; ${m.os}`,
    `- Load average (1 min) at start / end: ${meta.load[0]} / ${meta.load[1]} — other work shares this machine, which is why ` +
      'every comparison is interleaved and reported as a ratio.',
    '- p99 by nearest rank; with few rounds it is the slowest one.',
    ''
  ]
  for (const section of sections) {
    parts.push(
      `## ${section.title}`,
      '',
      '| Figure | Ours | Floor / reference | Ratio | Target | Result |',
      '| --- | --- | --- | --- | --- | --- |'
    )
    for (const r of section.rows) {
      parts.push(
        `| ${cell(r.figure)} | ${cell(r.ours)} | ${cell(r.floor)} | ${cell(r.ratio)} | ${cell(r.target)} | ${r.verdict === 'MISS' ? '**MISS**' : r.verdict} |`
      )
    }
    parts.push('', ...section.notes.flatMap((n) => [n, '']))
  }
  return parts.join('\n')
}

const main = async (): Promise<void> => {
  const { only, quick } = parseArgs(process.argv.slice(2))
  preflight(only)
  const started = now()
  const date = new Date().toISOString().replace(/\.\d+Z$/u, 'Z')
  const loadStart = loadavg()[0]!.toFixed(2)
  const measured = revision()
  const sections: Section[] = []
  const log = (text: string) => process.stderr.write(`[bench ${((now() - started) / 1000).toFixed(0)} s] ${text}\n`)

  // A section that fails is reported as failed; the others still run and report.
  let failures = 0
  const attempt = async (name: SectionName, section: () => Promise<Section>): Promise<void> => {
    if (!only.has(name)) return
    log(name)
    try {
      sections.push(await section())
    } catch (error) {
      failures++
      const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/gu, ' ').slice(0, 400)
      log(`${name} failed: ${message}`)
      sections.push({
        title: `${SECTIONS.indexOf(name) + 1}. ${name}`,
        rows: [{ figure: 'The section failed', ours: message, floor: '—', ratio: '—', target: '—', verdict: 'MISS' }],
        notes: []
      })
    }
  }
  const actionSections = (['latency', 'throughput', 'validation', 'cold', 'logs'] as const).filter((name) =>
    only.has(name)
  )
  if (actionSections.length > 0) {
    log('building the sdk floor')
    const sdkFloor = await buildSdkFloor()
    try {
      const stage = await startStage(sdkFloor)
      try {
        await attempt('latency', () =>
          runLatency(stage, quick ? { calls: 100, warmup: 20 } : { calls: 1_000, warmup: 100 })
        )
        await attempt('throughput', () =>
          runThroughput(stage, quick ? { rounds: 2, roundMs: 1_000 } : { rounds: 4, roundMs: 4_000 })
        )
        await attempt('validation', () => runValidation(stage, { rounds: quick ? 3 : 11 }))
        await attempt('cold', () => runColdStart(stage, sdkFloor, { rounds: quick ? 4 : 20 }))
        await attempt('logs', () => runLogs(stage, quick ? { calls: 100, warmup: 20 } : { calls: 1_000, warmup: 100 }))
      } finally {
        await stage.stop()
      }
    } finally {
      await sdkFloor.remove()
    }
  }
  if (only.has('export')) {
    await attempt('export', () =>
      runExport({
        sizes: quick
          ? [{ series: 100, rounds: 1 }]
          : [
              { series: 100, rounds: 2 },
              { series: 1_000, rounds: 1 }
            ]
      })
    )
  }

  if (only.has('export-logs')) {
    await attempt('export-logs', () =>
      runLogExport(quick ? { lines: 50_000, rounds: 1 } : { lines: 1_000_000, rounds: 1 })
    )
  }

  const seconds = (now() - started) / 1000
  // Run in the order that keeps the export last; report in the numbered order.
  sections.sort((a, b) => a.title.localeCompare(b.title))
  console.log(`\n${consoleTable(sections)}\n`)
  if (failures > 0) {
    log(`${failures} section(s) failed: bench/RESULTS.md not written`)
    process.exitCode = 1
  } else if (only.size === SECTIONS.length && !quick) {
    const file = join(__dirname, 'RESULTS.md')
    await writeFile(
      file,
      markdown(sections, { date, seconds, load: [loadStart, loadavg()[0]!.toFixed(2)], revision: measured })
    )
    log(`wrote ${file}`)
  } else {
    log('partial or quick run: bench/RESULTS.md not written')
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // Exiting runs the exit hooks that SIGKILL every server and child started, by PID.
  process.once(signal, () => process.exit(130))
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
})
