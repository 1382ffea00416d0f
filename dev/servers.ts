/**
 * Real local servers for the test suite, the benchmarks and the demo:
 * VictoriaMetrics 1.79, InfluxDB 1.6 and Prometheus 2.42 from the Debian packages.
 *
 * Every server:
 *  - listens on 127.0.0.1 only, on a free port picked here (bind port 0, read it, close, pass it on);
 *  - keeps its data in a fresh folder made with fs.mkdtemp under os.tmpdir(), removed on stop();
 *  - runs as a child process whose PID is kept; stop() signals that PID only
 *    (SIGTERM, then SIGKILL after a bounded wait);
 *  - is ready when its health endpoint answers, polled in a loop bounded in count and time;
 *    a failure to start carries the tail of the server's own log (stderr/stdout).
 *
 * Secrets stay off command lines: VictoriaMetrics reads -httpAuth.* from its environment
 * (-envflag.enable), so neither the username nor the password is visible in `ps` or
 * /proc/<pid>/cmdline.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RunningServer {
  readonly url: string
  readonly port: number
  readonly dataDir: string
  readonly pid: number
  /** The last lines the server wrote to stdout/stderr. */
  logTail(lines?: number): string
  stop(): Promise<void>
}

export interface VictoriaMetrics extends RunningServer {
  /** Empty strings when started with auth: false. */
  readonly username: string
  readonly password: string
  /** `Basic …` header value, or undefined without auth. */
  readonly authorization: string | undefined
  /** GET /internal/force_flush: makes fresh writes searchable at once. */
  flush(): Promise<void>
  /** Every raw sample of the series matching `match`, from /api/v1/export after a flush. */
  exportSeries(match: string): Promise<ExportedSeries[]>
  /**
   * The export once `ready` holds for it: VictoriaMetrics 1.79 shows fresh writes a moment after a
   * flush (seen: up to ~1 s). Polls, bounded in count and time; returns the last export at the end.
   */
  exportWhen(match: string, ready: (series: ExportedSeries[]) => boolean): Promise<ExportedSeries[]>
}

/** One series of VictoriaMetrics' /api/v1/export (JSON lines). */
export interface ExportedSeries {
  readonly metric: Record<string, string>
  readonly values: Array<number | string>
  readonly timestamps: number[]
}

/** VictoriaMetrics writes `+Inf`, `-Inf` and `NaN` as bare words, which JSON.parse refuses. */
export const parseExport = (text: string): ExportedSeries[] =>
  text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line.replace(/([[,])([+-]?Inf|NaN)(?=[\],])/gu, '$1"$2"')) as ExportedSeries)

export interface VictoriaMetricsOptions {
  /** With auth: the numeric user name (a Grafana Cloud user ID); default a random one. */
  username?: string
  /** Default true: a random numeric username and a password checked by -httpAuth.* (passed via the environment). */
  auth?: boolean
  /**
   * Default true: -dedup.minScrapeInterval=1ms, so an identical sample (same series, same
   * millisecond) is kept once, as Mimir and Prometheus do. Verified with VM 1.79 in
   * test/servers.test.ts (without it, the same line written twice is stored twice).
   */
  dedup?: boolean
  /** More command-line flags (never secrets). */
  extraArgs?: string[]
  /** Binary; default /usr/bin/victoria-metrics (or VICTORIA_METRICS_BIN). */
  bin?: string
}

export interface PrometheusOptions {
  /** TSDB folder to serve (e.g. blocks made by promtool). Not removed on stop. Default: a folder inside dataDir. */
  tsdbPath?: string
  extraArgs?: string[]
}

const STOP_TERM_WAIT_MS = 10_000
const STOP_KILL_WAIT_MS = 5_000
const READY_TIMEOUT_MS = 30_000
const READY_MAX_POLLS = 300
const READY_POLL_INTERVAL_MS = 100
const EXPORT_WAIT_MS = 20_000
const EXPORT_MAX_POLLS = 80
const EXPORT_POLL_INTERVAL_MS = 250
const LOG_TAIL_BYTES = 16 * 1024
const START_ATTEMPTS = 3 // a free port can be taken between picking and binding: retry with a new one

/** Children still running, so a crashing test process does not leave servers behind. */
const live = new Set<ChildProcess>()
let exitHookInstalled = false

/** Kills `child` by its PID if this process exits while it still runs. */
export function killOnExit(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const running of live) {
        if (running.pid !== undefined && running.exitCode === null && running.signalCode === null) {
          try {
            process.kill(running.pid, 'SIGKILL')
          } catch {
            // already gone
          }
        }
      }
    })
  }
  live.add(child)
  child.once('exit', () => live.delete(child))
  child.once('error', () => live.delete(child))
}

/** Binds port 0 on 127.0.0.1, reads the port the kernel chose, closes, returns it. */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      if (addr === null || typeof addr === 'string') {
        srv.close()
        reject(new Error('could not read the port of a bound socket'))
        return
      }
      const port = addr.port
      srv.close(() => resolve(port))
    })
  })
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** A child process with the tail of its output kept for error messages. */
class Child {
  public readonly proc: ChildProcess
  private _tail = ''
  public readonly exited: Promise<void>

  public constructor(bin: string, args: string[], env: NodeJS.ProcessEnv, cwd: string) {
    this.proc = spawn(bin, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    killOnExit(this.proc)
    const keep = (chunk: Buffer) => {
      this._tail = (this._tail + chunk.toString('utf8')).slice(-LOG_TAIL_BYTES)
    }
    this.proc.stdout?.on('data', keep)
    this.proc.stderr?.on('data', keep)
    this.exited = new Promise<void>((resolve) => {
      this.proc.once('exit', () => resolve())
      this.proc.once('error', (err) => {
        keep(Buffer.from(`\n[spawn error] ${err.message}\n`))
        resolve()
      })
    })
  }

  public get pid(): number {
    return this.proc.pid ?? -1
  }

  public get running(): boolean {
    return this.proc.pid !== undefined && this.proc.exitCode === null && this.proc.signalCode === null
  }

  public logTail(lines = 30): string {
    return this._tail.split('\n').slice(-lines).join('\n')
  }

  /** SIGTERM to this PID, then SIGKILL after a bounded wait. */
  public async stop(): Promise<void> {
    if (!this.running) return
    const pid = this.proc.pid as number
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      return
    }
    const termed = await Promise.race([this.exited.then(() => true), sleep(STOP_TERM_WAIT_MS).then(() => false)])
    if (termed || !this.running) return
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      return
    }
    await Promise.race([this.exited, sleep(STOP_KILL_WAIT_MS)])
  }
}

async function waitReady(
  child: Child,
  name: string,
  healthUrl: string,
  ok: (status: number) => boolean
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let lastError = 'no answer yet'
  for (let i = 0; i < READY_MAX_POLLS && Date.now() < deadline; i++) {
    if (!child.running) {
      throw new Error(
        `${name} exited before it was ready (exit ${child.proc.exitCode ?? child.proc.signalCode}).\n--- ${name} log tail ---\n${child.logTail()}`
      )
    }
    try {
      const res = await fetch(healthUrl, { signal: AbortSignal.timeout(2_000) })
      await res.arrayBuffer()
      if (ok(res.status)) return
      lastError = `HTTP ${res.status}`
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err)
    }
    await sleep(READY_POLL_INTERVAL_MS)
  }
  throw new Error(
    `${name} not ready at ${healthUrl} within ${READY_TIMEOUT_MS} ms (${lastError}).\n--- ${name} log tail ---\n${child.logTail()}`
  )
}

function looksLikePortClash(tail: string): boolean {
  return /address already in use|bind: address/i.test(tail)
}

/** Starts a server, retrying with a fresh port when the picked one was taken meanwhile. */
async function startWithRetry<T>(name: string, attempt: () => Promise<{ child: Child; result: T }>): Promise<T> {
  let lastErr: unknown
  for (let i = 0; i < START_ATTEMPTS; i++) {
    try {
      return (await attempt()).result
    } catch (err) {
      lastErr = err
      const msg = err instanceof Error ? err.message : String(err)
      if (!looksLikePortClash(msg)) throw err
    }
  }
  throw new Error(`${name}: could not start after ${START_ATTEMPTS} attempts: ${String(lastErr)}`)
}

function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // A minimal environment: with -envflag.enable, VictoriaMetrics would read any variable named like a flag.
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: tmpdir(), ...extra }
}

function makeStop(child: Child, dirs: string[]): () => Promise<void> {
  let stopping: Promise<void> | undefined
  return () => {
    stopping ??= (async () => {
      await child.stop()
      for (const d of dirs) await rm(d, { recursive: true, force: true, maxRetries: 3 })
    })()
    return stopping
  }
}

export async function startVictoriaMetrics(opts: VictoriaMetricsOptions = {}): Promise<VictoriaMetrics> {
  const auth = opts.auth ?? true
  const dedup = opts.dedup ?? true
  const bin = opts.bin ?? process.env.VICTORIA_METRICS_BIN ?? '/usr/bin/victoria-metrics'
  // Numeric, like a Grafana Cloud user ID, so the integration's configuration accepts it.
  const username = auth ? (opts.username ?? String(randomInt(1_000_000, 10_000_000))) : ''
  const password = auth ? randomBytes(18).toString('base64url') : ''
  const authorization = auth ? `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` : undefined

  return await startWithRetry('victoria-metrics', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vm-'))
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const args = [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${dataDir}`,
      '-retentionPeriod=100y',
      '-search.latencyOffset=0s',
      '-search.disableCache',
      '-loggerLevel=WARN',
      ...(dedup ? ['-dedup.minScrapeInterval=1ms'] : []),
      ...(opts.extraArgs ?? [])
    ]
    const envFlags: Record<string, string> = {}
    if (auth) {
      // Flags from the environment (VM's -envflag.enable; "." in a flag name becomes "_"): off argv.
      args.unshift('-envflag.enable')
      envFlags.httpAuth_username = username
      envFlags.httpAuth_password = password
    }
    const child = new Child(bin, args, baseEnv(envFlags), dataDir)
    const stop = makeStop(child, [dataDir])
    try {
      await waitReady(child, 'victoria-metrics', `${url}/health`, (s) => s === 200)
    } catch (err) {
      await stop()
      throw err
    }
    const flush = async () => {
      const res = await fetch(`${url}/internal/force_flush`, {
        headers: authorization ? { authorization } : {},
        signal: AbortSignal.timeout(10_000)
      })
      const body = await res.text()
      if (!res.ok) throw new Error(`victoria-metrics force_flush: HTTP ${res.status} ${body.slice(0, 200)}`)
    }
    const exportSeries = async (match: string) => {
      await flush()
      const res = await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': match })}`, {
        headers: authorization ? { authorization } : {},
        signal: AbortSignal.timeout(30_000)
      })
      const body = await res.text()
      if (!res.ok) throw new Error(`victoria-metrics export: HTTP ${res.status} ${body.slice(0, 200)}`)
      return parseExport(body)
    }
    const exportWhen = async (match: string, ready: (series: ExportedSeries[]) => boolean) => {
      const deadline = Date.now() + EXPORT_WAIT_MS
      let series = await exportSeries(match)
      for (let attempt = 0; attempt < EXPORT_MAX_POLLS && !ready(series) && Date.now() < deadline; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, EXPORT_POLL_INTERVAL_MS))
        series = await exportSeries(match)
      }
      return series
    }
    const result: VictoriaMetrics = {
      url,
      port,
      dataDir,
      pid: child.pid,
      username,
      password,
      authorization,
      flush,
      exportSeries,
      exportWhen,
      stop,
      logTail: (n?: number) => child.logTail(n)
    }
    return { child, result }
  })
}

export async function startInfluxDB(opts: { bin?: string } = {}): Promise<RunningServer> {
  const bin = opts.bin ?? process.env.INFLUXD_BIN ?? '/usr/bin/influxd'
  return await startWithRetry('influxd', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'influxdb-'))
    const port = await freePort()
    const rpcPort = await freePort()
    const url = `http://127.0.0.1:${port}`
    const q = (s: string) => JSON.stringify(s)
    const config = [
      'reporting-disabled = true',
      `bind-address = ${q(`127.0.0.1:${rpcPort}`)}`,
      '[meta]',
      `  dir = ${q(join(dataDir, 'meta'))}`,
      '  logging-enabled = false',
      '[data]',
      `  dir = ${q(join(dataDir, 'data'))}`,
      `  wal-dir = ${q(join(dataDir, 'wal'))}`,
      '  query-log-enabled = false',
      '[monitor]',
      '  store-enabled = false',
      '[http]',
      '  enabled = true',
      `  bind-address = ${q(`127.0.0.1:${port}`)}`,
      '  auth-enabled = false',
      '  log-enabled = false',
      '[continuous_queries]',
      '  enabled = false',
      ''
    ].join('\n')
    const configPath = join(dataDir, 'influxdb.conf')
    await writeFile(configPath, config, { mode: 0o600 })
    const child = new Child(bin, ['run', '-config', configPath], baseEnv(), dataDir)
    const stop = makeStop(child, [dataDir])
    try {
      await waitReady(child, 'influxd', `${url}/ping`, (s) => s === 204)
    } catch (err) {
      await stop()
      throw err
    }
    return { child, result: { url, port, dataDir, pid: child.pid, stop, logTail: (n?: number) => child.logTail(n) } }
  })
}

export async function startPrometheus(opts: PrometheusOptions = {}): Promise<RunningServer> {
  const bin = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus'
  return await startWithRetry('prometheus', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'prometheus-'))
    const tsdbPath = opts.tsdbPath ?? join(dataDir, 'tsdb')
    await mkdir(tsdbPath, { recursive: true })
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const configPath = join(dataDir, 'prometheus.yml')
    await writeFile(configPath, 'global:\n  scrape_interval: 1h\nscrape_configs: []\n', { mode: 0o600 })
    const args = [
      `--config.file=${configPath}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${tsdbPath}`,
      '--storage.tsdb.retention.time=100y',
      '--log.level=warn',
      ...(opts.extraArgs ?? [])
    ]
    const child = new Child(bin, args, baseEnv(), dataDir)
    const stop = makeStop(child, [dataDir])
    try {
      await waitReady(child, 'prometheus', `${url}/-/ready`, (s) => s === 200)
    } catch (err) {
      await stop()
      throw err
    }
    return { child, result: { url, port, dataDir, pid: child.pid, stop, logTail: (n?: number) => child.logTail(n) } }
  })
}

export interface VmalertOptions {
  /** Prometheus-format rule files to evaluate. */
  ruleFiles: string[]
  /** Where to query, and where recording rules write their results (a VictoriaMetrics without auth). */
  datasourceUrl: string
  remoteWriteUrl: string
  /** An Alertmanager (or anything that takes POST /api/v2/alerts). */
  notifierUrl: string
  /** How often every group is evaluated (the groups carry no interval of their own). */
  evaluationInterval: string
  extraArgs?: string[]
}

/** vmalert from Debian's victoria-metrics package: evaluates rule files against a datasource. */
export async function startVmalert(opts: VmalertOptions): Promise<RunningServer> {
  const bin = process.env.VMALERT_BIN ?? '/usr/bin/vmalert'
  return await startWithRetry('vmalert', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vmalert-'))
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const args = [
      `-httpListenAddr=127.0.0.1:${port}`,
      ...opts.ruleFiles.map((f) => `-rule=${f}`),
      `-datasource.url=${opts.datasourceUrl}`,
      `-remoteWrite.url=${opts.remoteWriteUrl}`,
      `-notifier.url=${opts.notifierUrl}`,
      `-evaluationInterval=${opts.evaluationInterval}`,
      '-remoteWrite.flushInterval=1s',
      '-loggerLevel=WARN',
      ...(opts.extraArgs ?? [])
    ]
    const child = new Child(bin, args, baseEnv(), dataDir)
    const stop = makeStop(child, [dataDir])
    try {
      await waitReady(child, 'vmalert', `${url}/health`, (s) => s === 200)
    } catch (err) {
      await stop()
      throw err
    }
    return { child, result: { url, port, dataDir, pid: child.pid, stop, logTail: (n?: number) => child.logTail(n) } }
  })
}

export interface AlertmanagerOptions {
  /** The alertmanager.yml to run with (written to the server's data folder). */
  config: string
}

/** Alertmanager 0.25 from Debian's prometheus-alertmanager package, clustering off. */
export async function startAlertmanager(opts: AlertmanagerOptions): Promise<RunningServer> {
  const bin = process.env.ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager'
  return await startWithRetry('alertmanager', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'alertmanager-'))
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const configPath = join(dataDir, 'alertmanager.yml')
    await writeFile(configPath, opts.config, { mode: 0o600 })
    const args = [
      `--config.file=${configPath}`,
      `--storage.path=${join(dataDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // An empty address turns the gossip cluster off: nothing listens on 0.0.0.0:9094.
      '--cluster.listen-address=',
      '--log.level=warn'
    ]
    const child = new Child(bin, args, baseEnv(), dataDir)
    const stop = makeStop(child, [dataDir])
    try {
      await waitReady(child, 'alertmanager', `${url}/-/ready`, (s) => s === 200)
    } catch (err) {
      await stop()
      throw err
    }
    return { child, result: { url, port, dataDir, pid: child.pid, stop, logTail: (n?: number) => child.logTail(n) } }
  })
}
