/**
 * What the export benchmarks share. An export script (its flags are the same for metrics and
 * logs) runs under /usr/bin/time -v, its temp files in a folder of the benchmark's: wall time
 * from spawn to exit and the peak memory of its whole process tree. The floor is one curl
 * process replaying the requests the script made, learnt from a run through a recording proxy.
 * Script and floor runs are interleaved, and reported as rows against the same targets.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { descendants } from '../../dev/processes'
import { startProxy, type ProxiedRequest } from '../../dev/proxy'
import { verdict, type Row } from './report'
import { median, mib, now, p99, ratio, sleep } from './stats'

const TIME = '/usr/bin/time'

/** The Debian packages an export benchmark runs: time (for the peak memory), curl and jq. */
export const requireExportTools = (): void => {
  for (const [bin, pkg] of [
    [TIME, 'time'],
    ['/usr/bin/curl', 'curl'],
    ['/usr/bin/jq', 'jq']
  ] as const) {
    if (!existsSync(bin))
      throw new Error(`${bin} is missing: install the Debian package "${pkg}" (apt-get install ${pkg}; .ci/run does).`)
  }
}

interface Run {
  readonly wallMs: number
  /** The larger of /usr/bin/time's maximum RSS (largest single process) and the sampled sum over the tree. */
  readonly peakRssBytes: number
}

const rssOf = (pid: number): number => {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/mu.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** Runs `command` under /usr/bin/time -v with `stdin` on its standard input, its temp files in `dir`. */
const timed = async (command: string[], stdin: string, dir: string): Promise<Run> => {
  const timeFile = join(dir, 'time.txt')
  const start = now()
  const child = spawn(TIME, ['-v', '-o', timeFile, ...command], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), TMPDIR: dir },
    stdio: ['pipe', 'ignore', 'pipe']
  })
  child.stdin.end(stdin)
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  let done = false
  const closed = new Promise<number | null>((r) => child.on('close', (code) => ((done = true), r(code))))
  const killer = setTimeout(() => child.kill('SIGKILL'), 600_000)
  let treeRss = 0
  while (!done) {
    const pids = descendants(child.pid!).slice(1) // not /usr/bin/time itself
    treeRss = Math.max(
      treeRss,
      pids.reduce((sum, p) => sum + rssOf(p), 0)
    )
    await sleep(20)
  }
  const code = await closed
  const wallMs = now() - start
  clearTimeout(killer)
  if (code !== 0) throw new Error(`${command.join(' ')} exited ${code}: ${stderr}`)
  const kb = /Maximum resident set size \(kbytes\): (\d+)/u.exec(await readFile(timeFile, 'utf8'))
  return { wallMs, peakRssBytes: Math.max(Number(kb?.[1] ?? 0) * 1024, treeRss) }
}

const cfgQuote = (text: string): string => `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`

/** Where the floor sends the requests, with which Basic-auth credentials. */
export interface FloorServer {
  readonly url: string
  readonly username: string
  readonly password: string
}

/** A curl config (read from stdin) that makes `requests` one after another, answers to /dev/null. */
const curlConfig = async (server: FloorServer, requests: ProxiedRequest[], dir: string): Promise<string> => {
  const sections: string[] = []
  for (const [i, r] of requests.entries()) {
    const options = [
      `url = ${cfgQuote(server.url + r.path)}`,
      `user = ${cfgQuote(`${server.username}:${server.password}`)}`,
      'output = "/dev/null"',
      'silent',
      'show-error',
      'fail'
    ]
    if (r.method !== 'GET') options.push(`request = ${cfgQuote(r.method)}`)
    for (const name of ['accept', 'accept-encoding', 'content-type', 'x-loki-response-encoding-flags']) {
      const value = r.headers[name]
      if (typeof value === 'string') options.push(`header = ${cfgQuote(`${name}: ${value}`)}`)
    }
    if (r.body.length > 0) {
      const file = join(dir, `request-${i}.body`)
      await writeFile(file, r.body)
      options.push(`data-binary = ${cfgQuote(`@${file}`)}`)
    }
    sections.push(options.join('\n'))
  }
  return `${sections.join('\nnext\n')}\n`
}

export interface ScriptBench<F extends string> {
  readonly script: string
  readonly server: FloorServer
  readonly formats: readonly F[]
  /** --from and --to, in seconds. */
  readonly from: number
  readonly to: number
  readonly rounds: number
  readonly dir: string
  /** Throws unless `file`, written in `format`, holds exactly what the server was given. */
  readonly check: (file: string, format: F) => Promise<void>
}

export interface ScriptBenchResult<F extends string> {
  /** Requests one run of the script makes. */
  readonly requests: number
  readonly script: Map<F, Run[]>
  readonly floor: Run[]
  readonly outBytes: Map<F, number>
}

/**
 * The script on `server` in each format, `rounds` times, each run next to a floor run (which goes
 * first flips every round); every output checked, then deleted.
 */
export const benchScript = async <F extends string>(bench: ScriptBench<F>): Promise<ScriptBenchResult<F>> => {
  const { server, dir } = bench
  const tokenFile = join(dir, 'token')
  await writeFile(tokenFile, `${server.password}\n`, { mode: 0o600 })
  const scriptArgs = (url: string, format: F, out: string) => [
    'bash',
    bench.script,
    '--url',
    url,
    '--user',
    server.username,
    '--token-file',
    tokenFile,
    '--from',
    String(bench.from),
    '--to',
    String(bench.to),
    '--format',
    format,
    '--out',
    out,
    '--quiet'
  ]

  // The requests the script makes, learnt from one run through a recording proxy (which also warms the server).
  const requests: ProxiedRequest[] = []
  const recorder = await startProxy(server.url, { onRequest: (r) => requests.push(r) })
  const recorded = join(dir, 'recorded.out')
  try {
    await timed(scriptArgs(recorder.url, bench.formats[0]!, recorded), '', dir)
  } finally {
    await recorder.close()
    await rm(recorded, { force: true })
  }
  const config = await curlConfig(server, requests, dir)

  const script = new Map<F, Run[]>(bench.formats.map((f) => [f, []]))
  const outBytes = new Map<F, number>()
  const floor: Run[] = []
  const runScript = async (format: F) => {
    const out = join(dir, `export.${format}`)
    script.get(format)!.push(await timed(scriptArgs(server.url, format, out), '', dir))
    await bench.check(out, format)
    outBytes.set(format, (await stat(out)).size)
    await rm(out, { force: true })
  }
  const runFloor = async () => floor.push(await timed(['curl', '-q', '-K', '-'], config, dir))
  for (let round = 0; round < bench.rounds; round++) {
    for (const format of bench.formats) {
      if (round % 2 === 0) {
        await runScript(format)
        await runFloor()
      } else {
        await runFloor()
        await runScript(format)
      }
    }
  }
  return { requests: requests.length, script, floor, outBytes }
}

const TIME_TARGET = 2
const RSS_TARGET = 100 * 1024 * 1024

/** Per format, two rows: the time against the floor (target ≤ 2×) and the peak RSS (target ≤ 100 MB). */
export const exportRows = <F extends string>(size: string, result: ScriptBenchResult<F>): Row[] => {
  const secs = (x: number) => `${(x / 1000).toFixed(2)} s`
  const wall = (runs: Run[]) => runs.map((r) => r.wallMs)
  const { floor } = result
  return [...result.script.entries()].flatMap(([format, runs]): Row[] => {
    const r = median(wall(runs)) / median(wall(floor))
    const peak = Math.max(...runs.map((x) => x.peakRssBytes))
    return [
      {
        figure: `${size}, ${format}: time, median (p99)`,
        ours: `${secs(median(wall(runs)))} (${secs(p99(wall(runs)))})`,
        floor: `${secs(median(wall(floor)))} (${secs(p99(wall(floor)))})`,
        ratio: ratio(r),
        target: `≤ ${TIME_TARGET}`,
        verdict: verdict(r <= TIME_TARGET)
      },
      {
        figure: `${size}, ${format}: peak RSS`,
        ours: mib(peak),
        floor: mib(Math.max(...floor.map((x) => x.peakRssBytes))),
        ratio: '—',
        target: `≤ ${mib(RSS_TARGET)}`,
        verdict: verdict(peak <= RSS_TARGET)
      }
    ]
  })
}
