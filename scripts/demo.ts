/**
 * The one-command demo: `npm run demo`.
 *
 * Builds the integration, starts a local VictoriaMetrics as a stand-in for Grafana Cloud (with
 * Basic auth: a numeric user ID and a random password playing the API key) and the Loki stand-in
 * (dev/loki.ts, in this process, on 127.0.0.1) for Grafana Cloud Logs, serves the built bundle,
 * calls `register` and the cards exactly as Botpress Cloud calls them (Send Log, and Send Metric
 * with "Also log every event" on for one call), reads the stored log entries and series back and
 * exports the series with scripts/export-metrics.sh.
 *
 * With GRAFANA_URL, GRAFANA_USER_ID and GRAFANA_API_KEY set it sends to that Grafana Cloud stack
 * instead (no local server); with GRAFANA_PROM_URL and GRAFANA_READ_TOKEN too, it reads back.
 * With GRAFANA_LOGS_URL and GRAFANA_LOGS_USER_ID it sends the logs to that stack's Loki (same API
 * key, which then needs logs:write), and with GRAFANA_LOGS_READ_TOKEN (logs:read) it reads them back.
 *
 * Everything it starts (the integration, VictoriaMetrics, child commands, temp folders) is
 * stopped by PID / removed on normal exit, on error and on Ctrl-C or SIGTERM.
 * No secret is printed or put on a command line.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { callIntegration, triggerAction, type IntegrationAnswer } from '../dev/botpress'
import { generateContentOutput } from '../dev/generate-content-output'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'
import { startLoki, type Loki } from '../dev/loki'
import { startVictoriaMetrics, type VictoriaMetrics } from '../dev/servers'
import { INSTANCE_LABEL } from '../src/label-names'
import { ensurePrerequisites, locate, prerequisites } from './prerequisites'

const ROOT = resolve(__dirname, '..')
const EXPORT_SCRIPT = join(ROOT, 'scripts', 'export-metrics.sh')
const BOT_ID = 'demo-bot'

// ---------------------------------------------------------------- output

/** Secrets that must never reach the terminal (the Grafana keys, the local password). */
const secrets: string[] = []
const scrub = (text: string): string => secrets.reduce((t, s) => (s === '' ? t : t.split(s).join('***')), text)

let quiet = false // set once a signal arrived: the main flow may still print, cleanup speaks instead
const say = (text = ''): void => {
  if (!quiet) process.stdout.write(`${scrub(text)}\n`)
}
const section = (title: string): void => say(`\n== ${title} ${'='.repeat(Math.max(3, 70 - title.length))}`)
const indent = (text: string, by = '   '): string =>
  text
    .split('\n')
    .map((line) => by + line)
    .join('\n')
const stripAnsi = (text: string): string => text.replace(/\u001b\[[0-9;?]*[A-Za-z]/gu, '').replace(/\r/gu, '\n')
const tail = (text: string, lines = 15): string =>
  stripAnsi(text)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .join('\n')

/** An expected failure: printed as its message, without a stack trace. */
class DemoError extends Error {}

// ---------------------------------------------------------------- cleanup

const cleanups: Array<{ what: string; run: () => Promise<void> }> = []
const pendingStarts = new Set<Promise<unknown>>()
const children = new Set<ChildProcess>()
let cleaning: Promise<void> | undefined

const cleanup = (): Promise<void> => {
  cleaning ??= (async () => {
    // A server still starting is stopped once it is up (its start is bounded).
    await Promise.allSettled([...pendingStarts])
    for (const child of children) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGTERM')
        } catch {
          // already gone
        }
      }
    }
    const done: string[] = []
    for (const step of cleanups.reverse()) {
      try {
        await step.run()
        if (step.what !== '') done.push(step.what)
      } catch (error) {
        process.stderr.write(`could not clean up ${step.what}: ${scrub(String((error as Error)?.message ?? error))}\n`)
      }
    }
    if (done.length > 0) {
      process.stdout.write(`\n== Cleanup ${'='.repeat(63)}\n${done.map((d) => `   ${d}`).join('\n')}\n`)
    }
  })()
  return cleaning
}

/** Starts something that must be stopped later; registers its stop as soon as it is up. */
const track = async <T>(
  start: Promise<T>,
  what: (value: T) => string,
  stop: (value: T) => Promise<void>
): Promise<T> => {
  pendingStarts.add(start)
  try {
    const value = await start
    cleanups.push({ what: what(value), run: () => stop(value) })
    return value
  } finally {
    pendingStarts.delete(start)
  }
}

let signalled = false
const onSignal = (signal: NodeJS.Signals, code: number) => {
  if (signalled) return
  signalled = true
  quiet = true
  process.stdout.write(
    `\n${signal === 'SIGINT' ? 'Interrupted (Ctrl-C)' : `Got ${signal}`}: stopping what the demo started…\n`
  )
  void cleanup().finally(() => process.exit(code))
}
process.on('SIGINT', () => onSignal('SIGINT', 130))
process.on('SIGTERM', () => onSignal('SIGTERM', 143))
process.on('SIGHUP', () => onSignal('SIGHUP', 129))

// ---------------------------------------------------------------- child commands

interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command without a shell, tracked so cleanup can stop it by PID; bounded in time. */
const run = (
  bin: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}
): Promise<RunResult> =>
  new Promise((resolvePromise) => {
    const child = spawn(bin, args, { cwd: ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    const timer = setTimeout(() => {
      stderr += `\n(stopped after ${(options.timeoutMs ?? 0) / 1000} s)`
      child.kill('SIGKILL')
    }, options.timeoutMs ?? 300_000)
    child.once('error', (error) => {
      clearTimeout(timer)
      children.delete(child)
      resolvePromise({ code: null, stdout, stderr: `${stderr}\n${error.message}` })
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      children.delete(child)
      resolvePromise({ code, stdout, stderr })
    })
  })

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

// ---------------------------------------------------------------- the target: local VictoriaMetrics or Grafana Cloud

interface Reader {
  /** Prometheus API base for scripts/export-metrics.sh (its --url). */
  readonly promUrl: string
  readonly user: string
  readonly token: string
}

/** Where the demo reads the log entries back: a Loki query API (Grafana Cloud Logs, or the stand-in). */
interface LogsReader {
  /** The base URL of `/loki/api/v1/query_range`. */
  readonly url: string
  readonly user: string
  readonly token: string
}

interface Target {
  readonly description: string
  /** The integration's configuration, as the install form in Botpress would hold it. */
  readonly configuration: Record<string, unknown>
  readonly reader: Reader | undefined
  /** Whether the configuration has the logs endpoint, and how to read the entries back. */
  readonly logs: boolean
  readonly logsReader: LogsReader | undefined
}

const remoteTarget = (): Target | undefined => {
  const env = process.env
  if (!env.GRAFANA_URL && !env.GRAFANA_API_KEY) return undefined
  const missing = ['GRAFANA_URL', 'GRAFANA_USER_ID', 'GRAFANA_API_KEY'].filter((name) => !env[name]?.trim())
  if (missing.length > 0) {
    throw new DemoError(
      `To send to Grafana Cloud, set all of GRAFANA_URL, GRAFANA_USER_ID and GRAFANA_API_KEY (missing: ${missing.join(', ')}).\n` +
        'Unset GRAFANA_URL and GRAFANA_API_KEY to run the local demo instead.'
    )
  }
  const apiKey = env.GRAFANA_API_KEY!.trim()
  secrets.push(apiKey)
  const readToken = env.GRAFANA_READ_TOKEN?.trim() ?? ''
  if (readToken) secrets.push(readToken)
  const logsReadToken = env.GRAFANA_LOGS_READ_TOKEN?.trim() ?? ''
  if (logsReadToken) secrets.push(logsReadToken)
  const promUrl = env.GRAFANA_PROM_URL?.trim() ?? ''
  const logsUrl = env.GRAFANA_LOGS_URL?.trim() ?? ''
  const logsUserId = env.GRAFANA_LOGS_USER_ID?.trim() ?? ''
  if ((logsUrl === '') !== (logsUserId === '')) {
    throw new DemoError(
      `To send logs to Grafana Cloud Logs, set both GRAFANA_LOGS_URL and GRAFANA_LOGS_USER_ID (missing: ${logsUrl === '' ? 'GRAFANA_LOGS_URL' : 'GRAFANA_LOGS_USER_ID'}).`
    )
  }
  const logs = logsUrl !== ''
  return {
    description:
      `Grafana Cloud: ${env.GRAFANA_URL!.trim()} as user ${env.GRAFANA_USER_ID!.trim()}` +
      (logs ? `, logs to ${logsUrl} as user ${logsUserId}` : '') +
      ' (API key from GRAFANA_API_KEY, not shown)',
    configuration: {
      grafanaUrl: env.GRAFANA_URL!.trim(),
      grafanaUserId: env.GRAFANA_USER_ID!.trim(),
      apiKey,
      ...(logs ? { logsUrl, logsUserId } : {})
    },
    reader: promUrl && readToken ? { promUrl, user: env.GRAFANA_USER_ID!.trim(), token: readToken } : undefined,
    logs,
    logsReader:
      logs && logsReadToken ? { url: new URL(logsUrl).origin, user: logsUserId, token: logsReadToken } : undefined
  }
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

/**
 * A local VictoriaMetrics with Basic auth: the helper picks a random numeric user (like a Grafana
 * user ID) and a random password (the "API key"), both passed through its environment, off argv.
 */
const startLocalVictoriaMetrics = async (): Promise<VictoriaMetrics> => {
  const started = Date.now()
  const vm = await track(
    startVictoriaMetrics({ auth: true, bin: locate(prerequisites('victoria-metrics')[0]!) }),
    (v) => `stopped VictoriaMetrics (pid ${v.pid}) and removed its data folder ${v.dataDir}`,
    (v) => v.stop()
  )
  secrets.push(vm.password)
  say(`VictoriaMetrics ${vm.url}  (pid ${vm.pid}, data folder ${vm.dataDir}, up in ${seconds(Date.now() - started)})`)
  say(`   user ID ${vm.username}, API key = a random password made for this run (not shown)`)
  say(`   influx write endpoint: ${vm.url}/influx/write`)
  return vm
}

/**
 * The Loki stand-in (dev/loki.ts) in this process, on 127.0.0.1, behind Grafana Cloud's gateway:
 * its own numeric logs user ID, and the same API key as the metrics, as Grafana Cloud issues it.
 */
const startLocalLoki = async (apiKey: string): Promise<Loki> => {
  const loki = await track(
    startLoki({ auth: { password: apiKey } }),
    (l) => `stopped the Loki stand-in (${l.url})`,
    (l) => l.stop()
  )
  say(
    `Loki stand-in ${loki.url}  (dev/loki.ts, in this process; Loki's push and query_range as Grafana Cloud Logs answers them)`
  )
  say(`   logs user ID ${loki.username}, the same API key`)
  say(`   push endpoint: ${loki.url}/loki/api/v1/push`)
  return loki
}

// ---------------------------------------------------------------- the cards

interface MetricEvent {
  readonly note: string
  readonly input: Record<string, unknown>
}

/** A small day of a support bot: two conversations on two channels and two releases. */
const METRIC_EVENTS: MetricEvent[] = [
  {
    note: 'Ana opens the checkout flow on webchat (bot 1.4.1)',
    input: {
      name: 'flow_started',
      channel: 'webchat',
      conversationId: 'conv-1',
      userId: 'ana',
      version: '1.4.1',
      tags: '{"flow":"checkout"}'
    }
  },
  {
    note: 'Ben opens the checkout flow on WhatsApp (bot 1.4.2)',
    input: {
      name: 'flow_started',
      channel: 'whatsapp',
      conversationId: 'conv-2',
      userId: 'ben',
      version: '1.4.2',
      tags: '{"flow":"checkout"}'
    }
  },
  {
    note: 'the bot answered Ana in 812 ms',
    input: {
      name: 'response_latency',
      channel: 'webchat',
      conversationId: 'conv-1',
      userId: 'ana',
      version: '1.4.1',
      value: 812
    }
  },
  {
    note: 'the bot answered Ben in 430 ms',
    input: {
      name: 'response_latency',
      channel: 'whatsapp',
      conversationId: 'conv-2',
      userId: 'ben',
      version: '1.4.2',
      value: '430'
    }
  },
  {
    note: 'Ben completes the checkout',
    input: {
      name: 'flow_completed',
      channel: 'whatsapp',
      conversationId: 'conv-2',
      userId: 'ben',
      version: '1.4.2',
      tags: '{"flow":"checkout"}'
    }
  }
]
const REFUSED_METRIC: MetricEvent = {
  note: 'a name with a space',
  input: { name: 'flow completed', channel: 'webchat', version: '1.4.1' }
}

const RAW_DATA = [
  'checkout,flow=cart,step=payment amount=35.2,items=3i',
  'nlu,intent=order_status confidence=0.93'
].join('\n')
const REFUSED_RAW = ['checkout,flow=cart amount=12.5', 'checkout,flow=cart amount=35.2 1764072000000'].join('\n')

/** Send LLM Usage right after an LLM card: its output as JSON text, and the duration measured around it. */
const LLM_USAGE = {
  response: JSON.stringify(generateContentOutput),
  durationMs: 1350,
  channel: 'webchat',
  conversationId: 'conv-1',
  userId: 'ana',
  version: '1.4.1',
  tags: '{"flow":"checkout"}'
}

const errorMessage = (answer: IntegrationAnswer): string => {
  const body = answer.body as { message?: unknown } | undefined
  return typeof body === 'object' && body !== null && typeof body.message === 'string'
    ? body.message
    : answer.text.slice(0, 500)
}

const outputOf = <T>(answer: IntegrationAnswer): T => (answer.body as { output: T }).output

const braces = (labels: Record<string, string>): string =>
  `{${Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(', ')}}`

const describeInput = (input: Record<string, unknown>) =>
  Object.entries(input)
    .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/u.test(v) ? JSON.stringify(v) : String(v)}`)
    .join(' ')

interface Sent {
  readonly series: Set<string>
  /** How many samples the accepted calls wrote. */
  readonly samples: number
  readonly since: number
  /** How many log entries the accepted calls wrote. */
  readonly logEntries: number
}

/** A Send Log call as a flow makes it when a payment fails. */
const SEND_LOG = {
  message: 'Payment declined: card expired',
  level: 'warning',
  event: 'payment_declined',
  channel: 'whatsapp',
  conversationId: 'conv-2',
  userId: 'ben',
  version: '1.4.2',
  attributes: '{"orderId": "A-1042", "amount": 35.2}'
}

/** A Send Metric call with "Also log every event" on: the sample without IDs, the log line with them. */
const TRAIL_EVENT: MetricEvent = {
  note: 'Ana asks for a human on webchat (bot 1.4.1)',
  input: { name: 'handoff_requested', channel: 'webchat', conversationId: 'conv-1', userId: 'ana', version: '1.4.1' }
}

const fireCards = async (
  integration: IntegrationProcess,
  configuration: Record<string, unknown>,
  logs: boolean
): Promise<Sent> => {
  const since = Date.now() - 1_000
  const series = new Set<string>()

  section('Register (what Botpress calls when the integration is installed)')
  const registered = await callIntegration(integration.url, 'register', configuration, { botId: BOT_ID })
  if (registered.status !== 200) {
    throw new DemoError(`register failed (HTTP ${registered.status}): ${errorMessage(registered)}`)
  }
  say('ok: the endpoint accepted the credentials (an empty write answered 204), so the install succeeds.')
  if (logs) say('ok: the logs endpoint accepted them too (a push of a stream without lines answered 204).')
  await sleep(100) // the log lines below come from the integration's own process
  const botLog = stripAnsi(integration.output())
    .split('\n')
    .filter((line) => line.includes('accepted the credentials'))
  for (const line of botLog) say(`   the bot's log in Botpress: ${line.trim()}`)

  section('Send Metric card')
  for (const event of METRIC_EVENTS) {
    const answer = await triggerAction(integration.url, configuration, 'sendMetric', event.input, BOT_ID)
    if (answer.status !== 200) {
      throw new DemoError(`Send Metric (${event.note}) failed (HTTP ${answer.status}): ${errorMessage(answer)}`)
    }
    const output = outputOf<{ seriesName: string }>(answer)
    series.add(output.seriesName)
    say(`ok       ${event.note}`)
    say(`         input  ${describeInput(event.input)}`)
    say(`         stored as ${output.seriesName}`)
  }
  const refused = await triggerAction(integration.url, configuration, 'sendMetric', REFUSED_METRIC.input, BOT_ID)
  if (refused.status === 200) throw new DemoError('Send Metric accepted a name with a space; it should refuse it.')
  say(
    `refused  ${REFUSED_METRIC.note}: name=${JSON.stringify(REFUSED_METRIC.input.name)}  (HTTP ${refused.status}, nothing sent)`
  )
  say(`         "${errorMessage(refused)}"`)

  section('Send Raw Data card')
  const raw = await triggerAction(integration.url, configuration, 'sendRawData', { data: RAW_DATA }, BOT_ID)
  if (raw.status !== 200) throw new DemoError(`Send Raw Data failed (HTTP ${raw.status}): ${errorMessage(raw)}`)
  const rawOutput = outputOf<{ linesSent: number; seriesNames: string[] }>(raw)
  rawOutput.seriesNames.forEach((name) => series.add(name))
  say('ok       data:')
  say(indent(RAW_DATA, '           '))
  say(`         linesSent ${rawOutput.linesSent}, seriesNames ${rawOutput.seriesNames.join(', ')}`)
  const rawRefused = await triggerAction(integration.url, configuration, 'sendRawData', { data: REFUSED_RAW }, BOT_ID)
  if (rawRefused.status === 200)
    throw new DemoError('Send Raw Data accepted a line with a timestamp; it should refuse it.')
  say(`refused  a body whose 2nd line carries its own timestamp  (HTTP ${rawRefused.status}, nothing sent)`)
  say(indent(REFUSED_RAW, '           '))
  say(`         "${errorMessage(rawRefused)}"`)

  section('Send LLM Usage card')
  const llm = await triggerAction(integration.url, configuration, 'sendLlmUsage', LLM_USAGE, BOT_ID)
  if (llm.status !== 200) throw new DemoError(`Send LLM Usage failed (HTTP ${llm.status}): ${errorMessage(llm)}`)
  const llmOutput = outputOf<{ seriesNames: string[]; labels: Record<string, string> }>(llm)
  llmOutput.seriesNames.forEach((name) => series.add(name))
  const { usage } = generateContentOutput
  say(
    `ok       Ana's question answered by ${generateContentOutput.provider} ${generateContentOutput.model} in ${LLM_USAGE.durationMs} ms`
  )
  say(
    `         response  the LLM card's output as JSON text: ${usage.inputTokens} input and ${usage.outputTokens} output tokens, stopReason ${generateContentOutput.choices[0].stopReason}`
  )
  say(`         stored as ${llmOutput.seriesNames.join(', ')}`)
  say(
    `         labels ${Object.entries(llmOutput.labels)
      .filter(([name]) => name.startsWith('gen_ai_'))
      .map(([name, value]) => `${name}=${value}`)
      .join(' ')}`
  )
  // One sample per series, and token usage once per token type.
  const llmSamples = llmOutput.seriesNames.length + 1
  const samples = METRIC_EVENTS.length + rawOutput.seriesNames.length + llmSamples
  if (!logs) {
    return { series, samples, since, logEntries: 0 }
  }

  section('Send Log card, and the trail of every event (Grafana Cloud Logs)')
  const logged = await triggerAction(integration.url, configuration, 'sendLog', SEND_LOG, BOT_ID)
  if (logged.status !== 200) throw new DemoError(`Send Log failed (HTTP ${logged.status}): ${errorMessage(logged)}`)
  const logOutput = outputOf<{ streamLabels: Record<string, string>; metadataKeys: string[]; timestamp: string }>(
    logged
  )
  say("ok       Ben's payment is declined: one log line")
  say(`         input  ${describeInput(SEND_LOG)}`)
  say(`         stream ${braces(logOutput.streamLabels)}`)
  say(`         metadata ${logOutput.metadataKeys.join(', ')}  at ${logOutput.timestamp} ns`)
  const trailConfiguration = { ...configuration, logEveryEvent: true, includeConversationAndUserIds: false }
  const trail = await triggerAction(integration.url, trailConfiguration, 'sendMetric', TRAIL_EVENT.input, BOT_ID)
  if (trail.status !== 200)
    throw new DemoError(`Send Metric with its trail failed (HTTP ${trail.status}): ${errorMessage(trail)}`)
  const trailOutput = outputOf<{ seriesName: string; labels: Record<string, string>; timestamp: number }>(trail)
  series.add(trailOutput.seriesName)
  say(`ok       ${TRAIL_EVENT.note}, with "Also log every event" on and the metric IDs off`)
  say(`         input  ${describeInput(TRAIL_EVENT.input)}`)
  say(
    `         stored as ${trailOutput.seriesName} {${Object.keys(trailOutput.labels).join(', ')}}, and as a log line with the IDs, both at ${trailOutput.timestamp} ms`
  )
  return { series, samples: samples + 1, since, logEntries: 2 }
}

// ---------------------------------------------------------------- reading back

interface Sample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
  readonly time: number
}

const selectorFor = (names: Iterable<string>) => `{__name__=~"${[...names].sort().join('|')}"}`

/** Every sample of the local VictoriaMetrics, via its /api/v1/export (JSON lines). */
const exportLocal = async (vm: VictoriaMetrics): Promise<Sample[]> => {
  await vm.flush()
  const response = await fetch(`${vm.url}/api/v1/export?${new URLSearchParams({ 'match[]': '{__name__=~".+"}' })}`, {
    headers: { authorization: vm.authorization! },
    signal: AbortSignal.timeout(30_000)
  })
  const text = await response.text()
  if (!response.ok)
    throw new DemoError(`VictoriaMetrics /api/v1/export answered HTTP ${response.status}: ${text.slice(0, 200)}`)
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => {
      const { metric, values, timestamps } = JSON.parse(line) as {
        metric: Record<string, string>
        values: number[]
        timestamps: number[]
      }
      const { __name__: name = '', ...labels } = metric
      return timestamps.map((time, i) => ({ name, labels, value: values[i]!, time }))
    })
}

const complete = (samples: Sample[], sent: Sent) =>
  samples.length >= sent.samples && [...sent.series].every((name) => samples.some((s) => s.name === name))

/**
 * VictoriaMetrics 1.79 shows fresh writes to export a moment after force_flush (up to ~1 s):
 * poll, bounded in count and time, until everything sent is there.
 */
const readLocal = async (vm: VictoriaMetrics, sent: Sent): Promise<Sample[]> => {
  const deadline = Date.now() + 15_000
  let samples: Sample[] = []
  for (let attempt = 0; attempt < 60 && Date.now() < deadline; attempt++) {
    samples = await exportLocal(vm)
    if (complete(samples, sent)) break
    await sleep(250)
  }
  return samples
}

/** The samples of `series` written since `since`, from a Prometheus query API (Grafana Cloud). */
const readRemote = async (reader: Reader, sent: Sent): Promise<Sample[]> => {
  const base = reader.promUrl.replace(/\/+$/u, '')
  const deadline = Date.now() + 60_000
  let samples: Sample[] = []
  for (let attempt = 0; attempt < 30 && Date.now() < deadline; attempt++) {
    const now = Math.ceil(Date.now() / 1000)
    const query = `${selectorFor(sent.series)}[${now - Math.floor(sent.since / 1000) + 5}s]`
    const response = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query, time: String(now) })}`, {
      headers: { authorization: basic(reader.user, reader.token) },
      signal: AbortSignal.timeout(30_000)
    })
    const text = await response.text()
    if (response.status === 401 || response.status === 403) {
      throw new DemoError(
        `${base} refused GRAFANA_USER_ID / GRAFANA_READ_TOKEN (HTTP ${response.status}): the token needs the metrics:read scope.`
      )
    }
    if (!response.ok)
      throw new DemoError(`${base}/api/v1/query answered HTTP ${response.status}: ${scrub(text.slice(0, 200))}`)
    const result = (
      JSON.parse(text) as {
        data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> }
      }
    ).data.result
    samples = result.flatMap(({ metric, values }) => {
      const { __name__: name = '', ...labels } = metric
      return values
        .map(([t, v]) => ({ name, labels, value: Number(v), time: Math.round(t * 1000) }))
        .filter((s) => s.time >= sent.since)
    })
    if (complete(samples, sent)) break
    await sleep(2_000)
  }
  return samples
}

interface LogEntryRead {
  /** Nanoseconds since the epoch. */
  readonly ts: string
  readonly stream: Record<string, string>
  readonly line: string
  readonly metadata: Record<string, string>
}

const LOGS_SELECTOR = `{service_name="botpress", botId="${BOT_ID}"}`

/**
 * The demo bot's log entries since the demo started, oldest first, from Loki's query_range
 * (stream labels and structured metadata apart). Grafana Cloud shows a push a moment later:
 * poll, bounded in count and time, until every entry sent is there.
 */
const readLogs = async (reader: LogsReader, sent: Sent): Promise<LogEntryRead[]> => {
  const base = reader.url.replace(/\/+$/u, '')
  const deadline = Date.now() + 60_000
  let entries: LogEntryRead[] = []
  for (let attempt = 0; attempt < 30 && Date.now() < deadline; attempt++) {
    const params = new URLSearchParams({
      query: LOGS_SELECTOR,
      start: `${sent.since}000000`,
      end: `${Date.now() + 60_000}000000`,
      direction: 'forward',
      limit: '100'
    })
    const response = await fetch(`${base}/loki/api/v1/query_range?${params}`, {
      headers: {
        authorization: basic(reader.user, reader.token),
        'X-Loki-Response-Encoding-Flags': 'categorize-labels'
      },
      signal: AbortSignal.timeout(30_000)
    })
    const text = await response.text()
    if (response.status === 401 || response.status === 403) {
      throw new DemoError(
        `${base} refused GRAFANA_LOGS_USER_ID / GRAFANA_LOGS_READ_TOKEN (HTTP ${response.status}): the token needs the logs:read scope.`
      )
    }
    if (!response.ok)
      throw new DemoError(
        `${base}/loki/api/v1/query_range answered HTTP ${response.status}: ${scrub(text.slice(0, 200))}`
      )
    const result = (
      JSON.parse(text) as {
        data: {
          result: Array<{
            stream: Record<string, string>
            values: Array<[string, string, { structuredMetadata?: Record<string, string> }?]>
          }>
        }
      }
    ).data.result
    entries = result
      .flatMap(({ stream, values }) =>
        values.map(([ts, line, extra]) => ({ ts, stream, line, metadata: extra?.structuredMetadata ?? {} }))
      )
      .sort((a, b) => (BigInt(a.ts) < BigInt(b.ts) ? -1 : BigInt(a.ts) > BigInt(b.ts) ? 1 : 0))
    if (entries.length >= sent.logEntries) break
    await sleep(2_000)
  }
  return entries
}

const printLogs = (entries: LogEntryRead[], sent: Sent): void => {
  for (const entry of entries) {
    say(`${new Date(Number(BigInt(entry.ts) / 1_000_000n)).toISOString()}  ${braces(entry.stream)}`)
    say(`   line      ${entry.line}`)
    say(
      `   metadata  ${Object.entries(entry.metadata)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, value]) => `${name}=${/[\s"]/u.test(value) ? JSON.stringify(value) : value}`)
        .join(' ')}`
    )
  }
  if (entries.length < sent.logEntries) {
    throw new DemoError(`The cards wrote ${sent.logEntries} log lines; ${entries.length} were found when reading back.`)
  }
  say(
    `\n${entries.length} entries: one per call answered OK, in ${new Set(entries.map((e) => braces(e.stream))).size} streams (bot × channel × version); the IDs are metadata, never a stream.`
  )
}

/** The stored samples, one row each; the instance that wrote a sample has its own column. */
const printTable = (samples: Sample[]): void => {
  const rows = [...samples]
    .sort((a, b) => a.name.localeCompare(b.name) || a.time - b.time)
    .map((s) => {
      const { [INSTANCE_LABEL]: instance = '', ...labels } = s.labels
      return [
        s.name,
        Object.entries(labels)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
        String(s.value),
        new Date(s.time).toISOString(),
        instance
      ]
    })
  const header = ['SERIES', 'LABELS', 'VALUE', 'TIME (UTC)', 'INSTANCE']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 2 ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
  say(line(header))
  say(line(widths.map((w) => '-'.repeat(w))))
  rows.forEach((r) => say(line(r)))
}

const checkStored = (samples: Sample[], sent: Sent): void => {
  const stored = new Set(samples.map((s) => s.name))
  const missing = [...sent.series].filter((name) => !stored.has(name))
  if (missing.length > 0)
    throw new DemoError(`These series were sent but not found when reading back: ${missing.join(', ')}`)
  say(
    `\n${stored.size} series, ${samples.length} samples: everything the cards sent was stored; the refused calls stored nothing.`
  )
}

// ---------------------------------------------------------------- export

const exportCsv = async (reader: Reader, selector: string, from: string, folder: string): Promise<void> => {
  const out = join(folder, 'bot-metrics.csv')
  const args = ['--format', 'csv', '--from', from, '--match', selector, '--out', out, '--quiet']
  say(`scripts/export-metrics.sh ${args.map((a) => (/[^\w./:-]/u.test(a) ? `'${a}'` : a)).join(' ')}`)
  say(
    `   with GRAFANA_PROM_URL=${reader.promUrl} GRAFANA_USER_ID=${reader.user} and GRAFANA_READ_TOKEN (not shown) in its environment`
  )
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    TMPDIR: folder,
    LANG: 'C.UTF-8',
    GRAFANA_PROM_URL: reader.promUrl,
    GRAFANA_USER_ID: reader.user,
    GRAFANA_READ_TOKEN: reader.token
  }
  const started = Date.now()
  const result = await run('bash', [EXPORT_SCRIPT, ...args], { env, timeoutMs: 120_000 })
  if (result.code !== 0) {
    throw new DemoError(
      `export-metrics.sh failed (exit ${result.code}):\n${indent(tail(result.stderr + result.stdout))}`
    )
  }
  const csv = (await readFile(out, 'utf8')).split('\n').filter((l) => l !== '')
  say(`done in ${seconds(Date.now() - started)}: ${csv.length - 1} rows in ${out} (removed at exit). First lines:\n`)
  const shown = 6
  say(indent(csv.slice(0, shown).join('\n')))
  if (csv.length > shown) say(`   … ${csv.length - shown} more`)
}

// ---------------------------------------------------------------- main

const build = async (): Promise<void> => {
  section('Build')
  const bp = join(ROOT, 'node_modules', '.bin', 'bp')
  if (!existsSync(bp)) throw new DemoError('node_modules/.bin/bp is missing: run `npm ci` first.')
  const started = Date.now()
  const result = await run(bp, ['build'], { timeoutMs: 180_000 })
  if (result.code !== 0) {
    throw new DemoError(`bp build failed (exit ${result.code}):\n${indent(tail(result.stdout + result.stderr, 25))}`)
  }
  say(`bp build: ok in ${seconds(Date.now() - started)} -> .botpress/dist/index.js`)
}

const main = async (): Promise<void> => {
  const args = process.argv.slice(2)
  const unknown = args.filter((a) => !['-h', '--help', '--skip-build'].includes(a))
  if (unknown.length > 0) throw new DemoError(`unknown option ${unknown[0]} (see npm run demo -- --help)`)
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(
      'Usage: npm run demo [-- --skip-build]\n\n' +
        'Builds the integration, starts a local VictoriaMetrics and a Loki stand-in for Grafana Cloud, calls register\n' +
        'and the cards as Botpress does (Send Log and the trail of an event too), prints what was stored and\n' +
        'exports the series with scripts/export-metrics.sh.\n\n' +
        '  --skip-build   use .botpress/dist/index.js from an earlier `npm run build`\n\n' +
        'Environment:\n' +
        '  GRAFANA_URL, GRAFANA_USER_ID, GRAFANA_API_KEY   send to this Grafana Cloud stack instead (no local server)\n' +
        '  GRAFANA_PROM_URL, GRAFANA_READ_TOKEN            with the above: read the series back and export them\n' +
        '  GRAFANA_LOGS_URL, GRAFANA_LOGS_USER_ID          with the above: send Send Log and the trail to that Loki\n' +
        '  GRAFANA_LOGS_READ_TOKEN                         with the above: read the log entries back\n' +
        '  VICTORIA_METRICS_BIN                            the victoria-metrics binary (default /usr/bin/victoria-metrics)\n'
    )
    return
  }
  const remote = remoteTarget()
  say('Grafana Cloud for Botpress: demo')
  say(
    remote
      ? `Target: ${remote.description}`
      : 'Target: a local VictoriaMetrics and a Loki stand-in for Grafana Cloud (set GRAFANA_URL, GRAFANA_USER_ID, GRAFANA_API_KEY for a real stack)'
  )

  const exportTools = remote && !remote.reader ? [] : prerequisites('curl', 'jq')
  const needed = [...(remote ? [] : prerequisites('victoria-metrics')), ...exportTools]
  let installing = false
  await ensurePrerequisites(needed, 'npm run demo', (line) => {
    if (!installing) section('Installing prerequisites')
    installing = true
    say(line)
  })

  if (args.includes('--skip-build')) {
    section('Build')
    say('skipped (--skip-build): using .botpress/dist/index.js as it is')
  } else {
    await build()
  }

  section(remote ? 'Grafana Cloud' : 'Local Grafana stand-in')
  let target: Target
  let vm: VictoriaMetrics | undefined
  if (remote) {
    target = remote
  } else {
    vm = await startLocalVictoriaMetrics()
    const loki = await startLocalLoki(vm.password)
    target = {
      description: 'local VictoriaMetrics and Loki stand-in',
      configuration: {
        grafanaUrl: `${vm.url}/influx/write`,
        grafanaUserId: vm.username,
        apiKey: vm.password,
        logsUrl: loki.url,
        logsUserId: loki.username
      },
      reader: { promUrl: vm.url, user: vm.username, token: vm.password },
      logs: true,
      logsReader: { url: loki.url, user: loki.username, token: vm.password }
    }
  }

  const integration = await track(
    startIntegrationProcess(),
    (i) => `stopped the integration (pid ${i.pid})`,
    (i) => i.stop()
  )
  say(`integration: the built bundle served by its start(port) at ${integration.url} (pid ${integration.pid})`)
  say('   configuration as on the install form: ' + describeInput({ ...target.configuration, apiKey: '(hidden)' }))

  let sent: Sent
  try {
    sent = await fireCards(integration, target.configuration, target.logs)
  } catch (error) {
    // An answer the demo did not expect is explained by its message; anything else (the
    // integration crashed, a request failed) by the integration's own last words.
    const log = signalled || error instanceof DemoError ? '' : tail(integration.output(), 10)
    if (log) process.stderr.write(`--- the integration's last log lines ---\n${scrub(log)}\n`)
    throw error
  }

  if (!target.logs) {
    say(
      "\nLogs: set GRAFANA_LOGS_URL and GRAFANA_LOGS_USER_ID (the stack's Loki details page) to try Send Log and the trail too."
    )
  } else if (target.logsReader) {
    section('Stored log entries (read back)')
    say(
      `GET ${target.logsReader.url}/loki/api/v1/query_range  ${LOGS_SELECTOR}  since the demo started, oldest first\n`
    )
    printLogs(await readLogs(target.logsReader, sent), sent)
  } else {
    section('Stored log entries')
    say('Not read back: set GRAFANA_LOGS_READ_TOKEN (logs:read) to have the demo do it.')
    say("In Grafana: Explore -> your stack's Loki data source (grafanacloud-…-logs) -> run")
    say(`   ${LOGS_SELECTOR} | conversationId="conv-2"`)
  }

  section('Stored series (read back)')
  let samples: Sample[]
  if (vm) {
    say(`GET ${vm.url}/api/v1/export  (after /internal/force_flush)\n`)
    samples = await readLocal(vm, sent)
  } else if (target.reader) {
    say(`GET ${target.reader.promUrl}/api/v1/query  ${selectorFor(sent.series)}[…] since the demo started\n`)
    samples = await readRemote(target.reader, sent)
  } else {
    say(
      'Not read back: set GRAFANA_PROM_URL (…/api/prom) and GRAFANA_READ_TOKEN (metrics:read) to have the demo do it.'
    )
    say("In Grafana: Explore -> your stack's Prometheus data source (grafanacloud-…-prom) -> run")
    say(`   ${selectorFor(sent.series)}`)
    say(`   e.g. sum by (channel) (count_over_time(flow_started_metric{botId="${BOT_ID}"}[1h]))`)
    say('\nDone: the cards delivered to Grafana Cloud.')
    return
  }
  printTable(samples)
  checkStored(samples, sent)

  section('Export with scripts/export-metrics.sh')
  if (!existsSync(EXPORT_SCRIPT)) {
    say('scripts/export-metrics.sh is not in this checkout: skipped.')
  } else {
    const folder = await track(
      mkdtemp(join(tmpdir(), 'grafana-demo-export-')),
      (f) => `removed the export folder ${f}`,
      (f) => rm(f, { recursive: true, force: true })
    )
    // Locally everything in the fresh VictoriaMetrics is the demo's (VictoriaMetrics does not add
    // Grafana's __mimir_source__ label, so the script's default selectors would miss the raw data).
    // On Grafana Cloud, only this run's samples: --from takes unix seconds and is exclusive.
    await exportCsv(
      target.reader!,
      vm ? '{__name__=~".+"}' : selectorFor(sent.series),
      vm ? '1h' : String(Math.floor(sent.since / 1000) - 1),
      folder
    )
  }

  say(
    `\nDone: register, the cards, ${target.logs ? 'the log lines, ' : ''}the stored series and their export all worked.`
  )
}

void (async () => {
  let code = 0
  try {
    await main()
  } catch (error) {
    code = 1
    if (!signalled) {
      const message =
        error instanceof DemoError || !(error instanceof Error)
          ? String((error as Error)?.message ?? error)
          : error.message
      process.stderr.write(`\nError: ${scrub(message)}\n`)
      if (!(error instanceof DemoError) && process.env.DEMO_DEBUG && error instanceof Error)
        process.stderr.write(`${scrub(error.stack ?? '')}\n`)
    }
  }
  if (signalled) return // the signal handler cleans up and exits
  await cleanup()
  process.exit(code)
})()
