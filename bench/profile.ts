/**
 * CPU profiles behind the figures in RESULTS.md (not part of `npm run bench`):
 *
 *   npx tsx bench/profile.ts encode-ours     # buildMetricEvent, 300k lines
 *   npx tsx bench/profile.ts encode-point    # Point.toLineProtocol, same inputs
 *   npx tsx bench/profile.ts validate        # parseRawData, 10 × 1 MiB
 *   npx tsx bench/profile.ts integration [metric|raw]  # the bundle and the relay during the overhead benchmark
 *   npx tsx bench/profile.ts cold            # one cold start of the bundle and its first Send Metric
 *   npx tsx bench/profile.ts export [fmt]    # export-metrics.sh traced: wall time per command
 *
 * The code is bundled with esbuild and a source map (for `integration`: the CLI's own bundle
 * options, plus the map), run under `node --cpu-prof`, and the profile's self time is summed per
 * function and per origin (our src/, each package, node internals, GC), mapped to the sources.
 * Profiles are kept in a temp folder whose path is printed.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'
import { headersFor } from '../test/helpers/botpress'
import { startVictoriaMetrics } from '../test/helpers/servers'
import { importData, SCRIPT, SELECTOR } from './export'
import { cliBuildOptions } from './lib/bundle'
import { BUNDLE_LAUNCHER, spawnNode } from './lib/children'
import { formatSummary, summarizeProfile } from './lib/cpuprofile'
import { post } from './lib/http'
import { now } from './lib/stats'
import { metricInputs, runOverhead } from './overhead'

const REPO = resolve(__dirname, '..')

/**
 * The CLI's bundle of the integration in `projectDir` (see bench/lib/bundle.ts) with a source
 * map: ours and the sdk floor are built alike, so their profiles compare function by function.
 */
const bundleWithMap = async (projectDir: string, outfile: string): Promise<string> => {
  await build({ ...cliBuildOptions(projectDir), outfile, sourcemap: true })
  return outfile
}

const main = async (): Promise<void> => {
  const mode = process.argv[2] ?? ''
  const dir = mkdtempSync(join(tmpdir(), `bench-profile-${mode}-`))
  if (['encode-ours', 'encode-point', 'validate'].includes(mode)) {
    const outfile = join(dir, 'harness.js')
    await build({
      entryPoints: [join(__dirname, 'profile-harness.ts')],
      bundle: true,
      platform: 'node',
      target: 'es2022',
      sourcemap: true,
      outfile,
      absWorkingDir: REPO,
      logLevel: 'warning',
    })
    execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, outfile, mode], { stdio: 'inherit' })
  } else if (mode === 'export') {
    await traceExport(dir, process.argv[3] ?? 'csv')
    return
  } else if (mode === 'integration' || mode === 'cold') {
    const outfile = await bundleWithMap(REPO, join(dir, 'index.js'))
    if (mode === 'integration') {
      const only = process.argv[3] === 'metric' || process.argv[3] === 'raw' ? process.argv[3] : undefined
      const floorBundle = (projectDir: string) => bundleWithMap(projectDir, join(dir, 'floor', 'index.js'))
      const section = await runOverhead({ n: Number(process.env.PROFILE_N ?? 1500), rounds: 1, warmup: 200, profileDir: dir, bundle: outfile, only, floorBundle })
      for (const row of section.rows) console.log(`${row.figure}: ${row.ours} vs ${row.floor} (${row.ratio})`)
    } else {
      const vm = await startVictoriaMetrics({ auth: false })
      try {
        const child = await spawnNode(BUNDLE_LAUNCHER, {
          env: { BUNDLE: outfile },
          nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-name=cold.cpuprofile', '--cpu-prof-interval=100'],
        })
        const listening = await child.listening
        const configuration = { grafanaUrl: `${vm.url}/influx/write`, grafanaUserId: '1234567', apiKey: 'glc_bench_not_a_real_key' }
        const answer = await post(undefined, `${child.url}/`, headersFor('action_triggered', configuration, 'bot-bench'), JSON.stringify({ type: 'sendMetric', input: metricInputs(1)[0] }))
        const end = now()
        console.log(`spawn → listening ${(listening - child.spawnedAt).toFixed(0)} ms, → first answer (${answer.status}) ${(end - listening).toFixed(0)} ms`)
        await child.stop()
      } finally {
        await vm.stop()
      }
    }
  } else {
    throw new Error('usage: tsx bench/profile.ts encode-ours|encode-point|validate|integration')
  }
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    console.log(`\n${join(dir, file)}\n${formatSummary(summarizeProfile(join(dir, file), REPO, 30))}`)
    if (mode === 'integration') console.log(perCall(summarizeProfile(join(dir, file), REPO, 5000)))
  }
}

/**
 * The overhead profiles per served call (PROFILE_N measured + 200 warm-up calls): on-CPU time
 * without (idle) and without `writev` (loopback socket writes, where a process on this shared
 * machine is mostly descheduled, not computing), by origin, and our functions.
 */
const perCall = (summary: ReturnType<typeof summarizeProfile>): string => {
  const calls = Number(process.env.PROFILE_N ?? 1500) + 200
  const idle = summary.byOrigin.find((o) => o.origin === '(idle)')?.selfMs ?? 0
  const writev = summary.top.filter((t) => t.name === 'writev').reduce((sum, t) => sum + t.selfMs, 0)
  const us = (msTotal: number) => `${((msTotal / calls) * 1000).toFixed(0)} µs`
  const origins = summary.byOrigin
    .filter((o) => o.origin !== '(idle)')
    .slice(0, 10)
    .map((o) => `${o.origin} ${us(o.origin === 'node internals' ? o.selfMs - writev : o.selfMs)}`)
  const ours = summary.top
    .filter((t) => t.where.startsWith('src/'))
    .slice(0, 10)
    .map((t) => `${t.name === '(anonymous)' ? '' : t.name}@${t.where} ${us(t.selfMs)}`)
  return [
    `per call (${calls} calls): on CPU ${us(summary.totalMs - idle - writev)}, in writev ${us(writev)}`,
    `  by origin: ${origins.join(', ')}`,
    `  our functions: ${ours.join(', ')}`,
  ].join('\n')
}

/**
 * Runs export-metrics.sh once with xtrace timestamps (a copy with `set -x` and an
 * EPOCHREALTIME PS4 in a temp folder: bash does not take PS4 from the environment as root)
 * and sums the wall time until the next traced command, per command name.
 */
const traceExport = async (dir: string, format: string): Promise<void> => {
  const vm = await startVictoriaMetrics({ auth: true })
  try {
    const { from, to } = await importData(vm)
    const script = readFileSync(SCRIPT, 'utf8').replace(/^#!.*\n/u, (shebang) => `${shebang}PS4='+\${EPOCHREALTIME} '\nset -x\n`)
    const traced = join(dir, 'export-metrics.traced.sh')
    writeFileSync(traced, script, { mode: 0o700 })
    writeFileSync(join(dir, 'token'), `${vm.password}\n`, { mode: 0o600 })
    const start = now()
    const result = spawnSync('bash', [traced, '--url', vm.url, '--user', vm.username, '--token-file', join(dir, 'token'), '--match', SELECTOR,
      '--from', String(from), '--to', String(to), '--format', format, '--out', join(dir, `out.${format}`), '--quiet'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'utf8',
    })
    const total = now() - start
    if (result.status !== 0) throw new Error(`export failed: ${result.stderr.slice(-2000)}`)
    const events = result.stderr
      .split('\n')
      .map((line) => /^\++(\d+\.\d+) (.*)$/u.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ t: Number(m[1]) * 1000, command: m[2]! }))
    const byCommand = new Map<string, { ms: number; count: number }>()
    for (let i = 0; i < events.length; i++) {
      const next = i + 1 < events.length ? events[i + 1]!.t : events[i]!.t
      const name = events[i]!.command.split(' ')[0]!.replace(/^[A-Z_]+=.*/u, '(assignment)')
      const entry = byCommand.get(name) ?? { ms: 0, count: 0 }
      entry.ms += next - events[i]!.t
      entry.count++
      byCommand.set(name, entry)
    }
    console.log(`export ${format}: ${(total / 1000).toFixed(1)} s wall; time until the next traced command, per command:`)
    for (const [name, { ms, count }] of [...byCommand].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
      console.log(`${(ms / 1000).toFixed(2).padStart(8)} s ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${String(count).padStart(5)}×  ${name}`)
    }
    const slow = events
      .map((e, i) => ({ ...e, ms: (i + 1 < events.length ? events[i + 1]!.t : e.t) - e.t }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 8)
    console.log('slowest single commands:')
    for (const e of slow) console.log(`${(e.ms / 1000).toFixed(2).padStart(8)} s  ${e.command.slice(0, 160)}`)
  } finally {
    await vm.stop()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
