/**
 * How the export benchmarks run a command: under /usr/bin/time -v, its temp files in a folder of
 * the benchmark's, wall time from spawn to exit and the peak memory of its whole process tree;
 * and the floor's curl config, which replays requests a script made.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { descendants } from '../../dev/processes'
import type { ProxiedRequest } from '../../dev/proxy'
import { now, sleep } from './stats'

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

export interface Run {
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
export const timed = async (command: string[], stdin: string, dir: string): Promise<Run> => {
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
export const curlConfig = async (server: FloorServer, requests: ProxiedRequest[], dir: string): Promise<string> => {
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
