/**
 * Faults: the BUILT bundle (`.botpress/dist/index.js` in its own
 * process) writes through test/helpers/fault-proxy.ts to a real VictoriaMetrics 1.79 (Basic
 * auth on, `-dedup.minScrapeInterval=1ms` on: an identical sample is kept once, as Mimir does;
 * servers.ts verifies that this works in 1.79). For each fault and each card:
 *
 *  - the call ends with exactly one stored sample per series (value and millisecond timestamp
 *    as the card reported) or with a clear error (400 from the integration whose message names
 *    the cause); never two samples for one call;
 *  - it never takes longer than `deliveryPolicy.budgetMs + deliveryPolicy.attemptTimeoutMs`
 *    plus a small margin (the documented bound, read from src/retry-policy.ts: no attempt starts
 *    after the budget, and an attempt lasts at most one timeout);
 *  - persistent faults (always 429, 503, hang, reset) end with a clear error and store nothing.
 *
 * "Forward then drop" (the write is stored, the answer is lost) is the case dedup exists for:
 * the retry carries the same bytes (same client timestamp), so VictoriaMetrics keeps one
 * sample. The test also checks the bytes of both forwarded writes are identical, which holds
 * with or without dedup.
 *
 * Logs: Send Log, and Send Metric with its trail ("Also log every event"), write through a
 * second fault proxy to the Loki stand-in (dev/loki.ts), which merges an entry equal to a stored
 * one (same stream, nanosecond and line) as Loki does and counts the merges. The same faults are
 * retried onto the same entry: every call answered OK is exactly one stored entry (at the time
 * the card reported), every merge is a retry of a forwarded push, and a call that gives up says
 * what it stored. For the trail, faults in front of either endpoint or both: the answer names
 * what was stored, and the stores hold exactly that.
 *
 * Every case has its own proxy route and its own metric names or event, so all cases run at once
 * (hang cases cost a full attempt timeout each). Finally, the integration process's output, its
 * command line and every answer it gave are searched for the API key (and its Basic-auth
 * encodings).
 *
 * VictoriaMetrics' Basic-auth user is a numeric user ID (the integration's must be digits); the
 * random password from dev/servers.ts is the API key.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { triggerAction, type IntegrationAnswer } from '../dev/botpress'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'
import { startLoki, type Loki, type LokiEntry } from '../dev/loki'
import { startVictoriaMetrics, type ExportedSeries, type VictoriaMetrics } from '../dev/servers'
import { deliveryPolicy } from '../src/retry-policy'
import { startFaultProxy, type Fault, type FaultProxy, type FaultyRequest } from './helpers/fault-proxy'
import { instanceOf } from './helpers/instance'

const USER_ID = '5550123'
/** Process start-up, the HTTP hop to the integration, a busy 2-core machine. */
const MARGIN_MS = 2_000
const BOUND_MS = deliveryPolicy.budgetMs + deliveryPolicy.attemptTimeoutMs + MARGIN_MS

type Card = 'sendMetric' | 'sendRawData'
/**
 * 'stored': success, one sample per series. 'error': a clear error, nothing stored.
 * 'error-stored-once': every answer is lost after the write was stored: a clear error, and
 * still exactly one sample per series (the retries rewrote the same sample).
 */
type Expectation = 'stored' | 'error' | 'error-stored-once'

interface FaultCase {
  readonly slug: string
  readonly title: string
  readonly faults: readonly Fault[]
  readonly then: Fault
  readonly expect: Expectation
  /** For 'error': what the message must say. */
  readonly message?: RegExp
}

const FAULT_CASES: readonly FaultCase[] = [
  {
    slug: 'once_429',
    title: '429 with Retry-After: 1, then forward',
    faults: ['status-429'],
    then: 'forward',
    expect: 'stored'
  },
  {
    slug: 'twice_503',
    title: '503 twice, then forward',
    faults: ['status-503', 'status-503'],
    then: 'forward',
    expect: 'stored'
  },
  {
    slug: 'once_hang',
    title: 'hang past the attempt timeout, then forward',
    faults: ['hang'],
    then: 'forward',
    expect: 'stored'
  },
  {
    slug: 'twice_reset',
    title: 'connection reset twice, then forward',
    faults: ['reset', 'reset'],
    then: 'forward',
    expect: 'stored'
  },
  {
    slug: 'once_drop',
    title: 'forward then drop the answer, then forward',
    faults: ['forward-then-drop'],
    then: 'forward',
    expect: 'stored'
  },
  {
    slug: 'always_429',
    title: 'always 429',
    faults: [],
    then: 'status-429',
    expect: 'error',
    message: /rate limiting this stack \(429\)( after \d+ attempts)?: the event was not stored/
  },
  {
    slug: 'always_503',
    title: 'always 503',
    faults: [],
    then: 'status-503',
    expect: 'error',
    message: /Grafana Cloud is unavailable \(503\) after \d+ attempts: the event was not stored/
  },
  {
    slug: 'always_hang',
    title: 'always hang',
    faults: [],
    then: 'hang',
    expect: 'error',
    message: /No answer from 127\.0\.0\.1:\d+ within 3 s after \d+ attempts/
  },
  {
    slug: 'always_reset',
    title: 'always reset',
    faults: [],
    then: 'reset',
    expect: 'error',
    message: /connection to 127\.0\.0\.1:\d+ was lost \(ECONNRESET\) after \d+ attempts: the event may have been stored/
  },
  {
    slug: 'always_drop',
    title: 'always forward then drop the answer',
    faults: [],
    then: 'forward-then-drop',
    expect: 'error-stored-once',
    message: /connection to 127\.0\.0\.1:\d+ was lost \(ECONNRESET\) after \d+ attempts: the event may have been stored/
  }
]

/**
 * A trail case: Send Metric with "Also log every event", faults in front of the logs endpoint,
 * the metrics endpoint or both; what the answer says and what each store must then hold.
 */
interface TrailCase {
  readonly slug: string
  readonly title: string
  readonly logs: { readonly faults: readonly Fault[]; readonly then: Fault }
  readonly metrics: { readonly faults: readonly Fault[]; readonly then: Fault }
  /** For a call that gives up: what its message must say. Undefined: answered OK. */
  readonly message?: RegExp
  readonly sampleStored: boolean
  readonly entryStored: boolean
}

const clean = { faults: [], then: 'forward' } as const

const TRAIL_CASES: readonly TrailCase[] = [
  ...(
    [
      ['once_429', '429 with Retry-After: 1 in front of the logs endpoint, then forward', ['status-429']],
      ['twice_503', '503 twice in front of the logs endpoint, then forward', ['status-503', 'status-503']],
      ['once_hang', 'the logs endpoint hangs past the attempt timeout, then forward', ['hang']],
      ['twice_reset', 'connection to the logs endpoint reset twice, then forward', ['reset', 'reset']],
      ['once_drop', 'the logs push forwarded, its answer dropped, then forward', ['forward-then-drop']]
    ] as const
  ).map(([slug, title, faults]): TrailCase => ({
    slug,
    title,
    logs: { faults, then: 'forward' },
    metrics: clean,
    sampleStored: true,
    entryStored: true
  })),
  {
    slug: 'logs_always_503',
    title: 'the logs endpoint always answers 503',
    logs: { faults: [], then: 'status-503' },
    metrics: clean,
    message:
      /Grafana Cloud is unavailable \(503\) after \d+ attempts: the event was not stored\..* The metric sample was stored; the log line was not stored\.$/,
    sampleStored: true,
    entryStored: false
  },
  {
    slug: 'logs_always_drop',
    title: 'the logs push always forwarded, its answer dropped',
    logs: { faults: [], then: 'forward-then-drop' },
    metrics: clean,
    message:
      /was lost \(ECONNRESET\) after \d+ attempts: the event may have been stored.* The metric sample was stored; the log line may have been stored\.$/,
    sampleStored: true,
    entryStored: true
  },
  {
    slug: 'metrics_always_429',
    title: 'the metrics endpoint always answers 429',
    logs: clean,
    metrics: { faults: [], then: 'status-429' },
    message:
      /rate limiting this stack \(429\).*: the event was not stored\..* The metric sample was not stored; the log line was stored\.$/,
    sampleStored: false,
    entryStored: true
  },
  {
    slug: 'both_always_reset',
    title: 'both endpoints always reset the connection',
    logs: { faults: [], then: 'reset' },
    metrics: { faults: [], then: 'reset' },
    message:
      /was lost \(ECONNRESET\) after \d+ attempts: the event may have been stored.* The metric sample may have been stored; the log line may have been stored\.$/,
    sampleStored: false,
    entryStored: false
  }
]

interface Run {
  readonly card: Card
  readonly fault: FaultCase
  readonly route: string
  /** The metric-name prefix every series of this run starts with. */
  readonly prefix: string
  readonly answer: IntegrationAnswer
  readonly elapsedMs: number
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The one run `match` picks; a missing one is a bug of this file. */
const theRun = <R>(all: readonly R[], what: string, match: (run: R) => boolean): R => {
  const run = all.find(match)
  if (run === undefined) {
    throw new Error(`no run for ${what}`)
  }
  return run
}

/** A Send Log call, or a Send Metric call with its trail, through the faults. */
interface LogRun {
  readonly card: 'sendLog' | 'sendMetric'
  readonly slug: string
  /** The route of both proxies (the logs one, and the metrics one for the trail). */
  readonly route: string
  /** The entry's `event` metadata: Send Log's Event, the trail's metric name. */
  readonly event: string
  readonly input: Record<string, unknown>
  readonly answer: IntegrationAnswer
  readonly elapsedMs: number
}

const LOGS_USER_ID = '5550456'

let vm: VictoriaMetrics
let proxy: FaultProxy
let loki: Loki
let lokiProxy: FaultProxy
let integration: IntegrationProcess
/** The name the integration process writes as (the `instance` of its lines). */
let instance: string
const runs: Run[] = []
const logRuns: LogRun[] = []
/** The final export of every series this file wrote, after the writes settled. */
let stored: ExportedSeries[] = []

const exportAll = (): Promise<ExportedSeries[]> => vm.exportSeries('{__name__=~"fault_.*"}')

const seriesOf = (all: ExportedSeries[], prefix: string) => all.filter((s) => s.metric.__name__!.startsWith(prefix))

/** The built-in fields of every Send Metric and Send Log call of this file. */
const FIELDS = { channel: 'web', botId: 'bot-faults', conversationId: 'conv-1', userId: 'user-1', version: '1.4.2' }

const inputFor = (card: Card, prefix: string) =>
  card === 'sendMetric'
    ? { name: prefix, ...FIELDS, value: 7.25 }
    : { data: `${prefix},k=a v=1.5,w=2i\n# a comment\n${prefix},k=b v=3` }

/** What the card must leave in VictoriaMetrics when it succeeded: per series name and labels, the value. */
const expectedSeries = (
  card: Card,
  prefix: string
): Array<{ name: string; labels: Record<string, string>; value: number }> =>
  card === 'sendMetric'
    ? [
        {
          name: `${prefix}_metric`,
          labels: FIELDS,
          value: 7.25
        }
      ]
    : [
        { name: `${prefix}_v`, labels: { k: 'a' }, value: 1.5 },
        { name: `${prefix}_w`, labels: { k: 'a' }, value: 2 },
        { name: `${prefix}_v`, labels: { k: 'b' }, value: 3 }
      ]

const messageOf = (answer: IntegrationAnswer): string => {
  const body = answer.body as { type?: string; message?: string }
  return typeof body?.message === 'string' ? body.message : answer.text
}

/** A run as the log of this file shows it: the card, the case, the time, the answer and every attempt's fault. */
const runLine = (
  what: string,
  slug: string,
  elapsedMs: number,
  answer: IntegrationAnswer,
  attempts: readonly FaultyRequest[]
): string =>
  `  ${what.padEnd(11)} ${slug.padEnd(18)} ${String(elapsedMs).padStart(6)} ms  HTTP ${answer.status}  ` +
  `[${attempts.map((q) => q.fault).join(' → ')}]  ${answer.status === 200 ? 'ok' : messageOf(answer).slice(0, 150)}`

const logInput = (slug: string): Record<string, unknown> => ({
  message: `payment declined (${slug}): "card expired"\nretry later 🚀`,
  level: 'error',
  event: `fault_log_${slug}`,
  ...FIELDS,
  attributes: { orderId: `A-${slug}`, amount: 35.2 }
})

const STREAM = { service_name: 'botpress', botId: 'bot-faults', channel: 'web', version: '1.4.2' }

/** What the run's one entry must be: its stream, line and metadata exactly (the time is checked apart). */
const expectedEntry = (run: LogRun): Omit<LokiEntry, 'ts'> =>
  run.card === 'sendLog'
    ? {
        labels: STREAM,
        line: JSON.stringify({ level: 'error', message: run.input.message, instance }),
        metadata: {
          card: 'sendLog',
          event: run.event,
          conversationId: 'conv-1',
          userId: 'user-1',
          orderId: `A-${run.slug}`,
          amount: '35.2',
          detected_level: 'error'
        }
      }
    : {
        labels: STREAM,
        line: JSON.stringify({ level: 'info', message: run.event, instance }),
        metadata: {
          card: 'sendMetric',
          event: run.event,
          conversationId: 'conv-1',
          userId: 'user-1',
          value: '7.25',
          series: `${run.event}_metric`,
          detected_level: 'info'
        }
      }

const entriesOf = (run: LogRun): LokiEntry[] => loki.entries().filter((e) => e.metadata.event === run.event)

/** The pushes the logs proxy forwarded for a run and Loki stored (204). */
const pushesStored = (run: LogRun) => lokiProxy.requestsFor(run.route).filter((r) => r.upstreamStatus === 204)

/** Retries the integration logged for its logs writes (a warning per retry). */
const logsRetriesLogged = (): number => integration.output().split('Grafana Cloud Logs write:').length - 1

beforeAll(async () => {
  vm = await startVictoriaMetrics({ username: USER_ID })
  proxy = await startFaultProxy(vm.url, { maxHangMs: 60_000 })
  // One API key for both endpoints, as Grafana Cloud issues it; the logs user ID is another.
  loki = await startLoki({ auth: { username: LOGS_USER_ID, password: vm.password } })
  lokiProxy = await startFaultProxy(loki.url, { maxHangMs: 60_000 })
  integration = await startIntegrationProcess()
  instance = await instanceOf(integration)

  // Every case of both cards at once: each has its own route and its own metric names.
  const pending: Array<Promise<Run>> = []
  for (const card of ['sendMetric', 'sendRawData'] as const) {
    for (const fault of FAULT_CASES) {
      const route = `${card}-${fault.slug}`
      const prefix = `fault_${card === 'sendMetric' ? 'metric' : 'raw'}_${fault.slug}`
      proxy.script(route, fault.faults, fault.then)
      const configuration = {
        grafanaUrl: `${proxy.routeUrl(route)}/influx/write`,
        grafanaUserId: USER_ID,
        apiKey: vm.password
      }
      pending.push(
        (async () => {
          const started = Date.now()
          const answer = await triggerAction(integration.url, configuration, card, inputFor(card, prefix))
          return { card, fault, route, prefix, answer, elapsedMs: Date.now() - started }
        })()
      )
    }
  }
  // Send Log through each fault, and Send Metric with its trail through the trail cases, at the same time.
  const logsConfiguration = (route: string) => ({
    grafanaUrl: `${proxy.routeUrl(route)}/influx/write`,
    grafanaUserId: USER_ID,
    apiKey: vm.password,
    logsUrl: `${lokiProxy.routeUrl(route)}/loki/api/v1/push`,
    logsUserId: LOGS_USER_ID
  })
  const timed = async (
    card: LogRun['card'],
    slug: string,
    route: string,
    configuration: Record<string, unknown>,
    input: Record<string, unknown>
  ): Promise<LogRun> => {
    const started = Date.now()
    const answer = await triggerAction(integration.url, configuration, card, input)
    const event = String(card === 'sendLog' ? input.event : input.name)
    return { card, slug, route, event, input, answer, elapsedMs: Date.now() - started }
  }
  const pendingLogs: Array<Promise<LogRun>> = []
  for (const fault of FAULT_CASES) {
    const route = `sendLog-${fault.slug}`
    lokiProxy.script(route, fault.faults, fault.then)
    pendingLogs.push(timed('sendLog', fault.slug, route, logsConfiguration(route), logInput(fault.slug)))
  }
  for (const trail of TRAIL_CASES) {
    const route = `trail-${trail.slug}`
    lokiProxy.script(route, trail.logs.faults, trail.logs.then)
    proxy.script(route, trail.metrics.faults, trail.metrics.then)
    const configuration = { ...logsConfiguration(route), logEveryEvent: true, includeConversationAndUserIds: false }
    pendingLogs.push(
      timed('sendMetric', trail.slug, route, configuration, inputFor('sendMetric', `fault_trail_${trail.slug}`))
    )
  }
  const [metricRuns, logsRuns] = await Promise.all([Promise.all(pending), Promise.all(pendingLogs)])
  runs.push(...metricRuns)
  logRuns.push(...logsRuns)
  console.log(
    `Fault runs (bound ${BOUND_MS} ms = budget ${deliveryPolicy.budgetMs} + attempt timeout ${deliveryPolicy.attemptTimeoutMs} + margin ${MARGIN_MS}):\n` +
      runs.map((r) => runLine(r.card, r.fault.slug, r.elapsedMs, r.answer, proxy.requestsFor(r.route))).join('\n') +
      '\n' +
      logRuns
        .map((r) =>
          runLine(
            r.card === 'sendLog' ? 'sendLog' : 'trail',
            r.slug,
            r.elapsedMs,
            r.answer,
            lokiProxy.requestsFor(r.route)
          )
        )
        .join('\n')
  )

  // Fresh writes show in VM 1.79's export a moment after force_flush: poll (bounded) until every
  // successful run is visible, then wait a little more, so that a late duplicate would show too.
  const succeeded = runs.filter((r) => r.answer.status === 200 || r.fault.expect === 'error-stored-once')
  const trailSamples = TRAIL_CASES.filter((t) => t.sampleStored).map((t) => `fault_trail_${t.slug}_metric`)
  const deadline = Date.now() + 20_000
  for (let attempt = 0; attempt < 80 && Date.now() < deadline; attempt++) {
    stored = await exportAll()
    if (
      succeeded.every((r) => seriesOf(stored, r.prefix).length >= expectedSeries(r.card, r.prefix).length) &&
      trailSamples.every((name) => stored.some((s) => s.metric.__name__ === name))
    ) {
      break
    }
    await sleep(250)
  }
  await sleep(1_500)
  stored = await exportAll()
}, 120_000)

afterAll(async () => {
  await integration?.stop()
  await lokiProxy?.close()
  await loki?.stop()
  await proxy?.close()
  await vm?.stop()
})

describe.each(['sendMetric', 'sendRawData'] as const)('%s through the fault proxy', (card) => {
  const runOf = (slug: string): Run => theRun(runs, `${card} ${slug}`, (r) => r.card === card && r.fault.slug === slug)

  it.each(FAULT_CASES.filter((f) => f.expect === 'stored').map((f) => [f.title, f.slug] as const))(
    '%s: succeeds with exactly one sample per series, within the retry bound',
    (_title, slug) => {
      const run = runOf(slug)
      expect(run.answer.status, run.answer.text).toBe(200)
      expect(run.elapsedMs).toBeLessThanOrEqual(BOUND_MS)
      const output = (run.answer.body as { output: { timestamp: number } }).output
      expect(output.timestamp).toEqual(expect.any(Number))

      const series = seriesOf(stored, run.prefix)
      const expected = expectedSeries(card, run.prefix)
      expect(series).toHaveLength(expected.length)
      for (const want of expected) {
        const got = series.filter(
          (s) => s.metric.__name__ === want.name && Object.entries(want.labels).every(([k, v]) => s.metric[k] === v)
        )
        expect(got, `${want.name} ${JSON.stringify(want.labels)}`).toHaveLength(1)
        // Exactly one sample: never two for one call, whatever was retried.
        expect(got[0]!.values).toEqual([want.value])
        expect(got[0]!.timestamps).toEqual([output.timestamp])
      }

      // The proxy saw the scripted faults, then exactly one clean forward.
      const requests = proxy.requestsFor(run.route)
      const fault = run.fault
      expect(requests.map((r) => r.fault)).toEqual([...fault.faults, fault.then])
      const forwarded = requests.filter((r) => r.fault === 'forward' || r.fault === 'forward-then-drop')
      for (const r of forwarded) {
        expect(r.upstreamStatus).toBe(204)
      }
      // Every attempt carried the same bytes: the client's timestamp makes a retry land on the same sample.
      expect(new Set(requests.map((r) => r.body.toString('utf8'))).size).toBe(1)
      expect(requests[0]!.path).toBe('/influx/write?precision=ms')
      if (slug === 'once_drop') {
        // VictoriaMetrics received the write twice and keeps one sample (dedup).
        expect(forwarded).toHaveLength(2)
      }
    }
  )

  it.each(FAULT_CASES.filter((f) => f.expect === 'error').map((f) => [f.title, f.slug] as const))(
    '%s: ends with a clear error within the retry bound and stores nothing',
    (_title, slug) => {
      const run = runOf(slug)
      expect(run.elapsedMs).toBeLessThanOrEqual(BOUND_MS)
      expect(run.answer.status, run.answer.text).toBe(400)
      expect(run.answer.body).toMatchObject({ type: 'Runtime' })
      const message = messageOf(run.answer)
      expect(message).toMatch(new RegExp(`^${card === 'sendMetric' ? 'Send Metric' : 'Send Raw Data'} failed: `))
      expect(message).toMatch(run.fault.message!)
      expect(seriesOf(stored, run.prefix)).toEqual([])
      // It did retry, and within the documented number of attempts; nothing reached VictoriaMetrics.
      const requests = proxy.requestsFor(run.route)
      expect(requests.length).toBeGreaterThanOrEqual(2)
      expect(requests.length).toBeLessThanOrEqual(deliveryPolicy.maxRetries + 1)
      expect(requests.every((r) => r.upstreamStatus === undefined)).toBe(true)
    }
  )

  it.each(FAULT_CASES.filter((f) => f.expect === 'error-stored-once').map((f) => [f.title, f.slug] as const))(
    '%s: ends with a clear error within the retry bound, and the write is stored exactly once',
    (_title, slug) => {
      const run = runOf(slug)
      expect(run.elapsedMs).toBeLessThanOrEqual(BOUND_MS)
      expect(run.answer.status, run.answer.text).toBe(400)
      expect(messageOf(run.answer)).toMatch(run.fault.message!)
      const requests = proxy.requestsFor(run.route)
      expect(requests.length).toBeGreaterThanOrEqual(2)
      expect(requests.length).toBeLessThanOrEqual(deliveryPolicy.maxRetries + 1)
      expect(requests.every((r) => r.upstreamStatus === 204)).toBe(true)
      expect(new Set(requests.map((r) => r.body.toString('utf8'))).size).toBe(1)
      // VictoriaMetrics received every attempt and keeps one sample per series (dedup).
      const series = seriesOf(stored, run.prefix)
      expect(series).toHaveLength(expectedSeries(card, run.prefix).length)
      for (const s of series) {
        expect(s.values).toHaveLength(1)
        expect(s.timestamps).toHaveLength(1)
      }
    }
  )
})

describe('Send Log through the fault proxy in front of the Loki stand-in', () => {
  const runOf = (slug: string): LogRun =>
    theRun(logRuns, `Send Log ${slug}`, (r) => r.card === 'sendLog' && r.slug === slug)

  it.each(FAULT_CASES.filter((f) => f.expect === 'stored').map((f) => [f.title, f.slug] as const))(
    '%s: succeeds with exactly one stored entry, the one the card reported, within the retry bound',
    (_title, slug) => {
      const run = runOf(slug)
      expect(run.answer.status, run.answer.text).toBe(200)
      expect(run.elapsedMs).toBeLessThanOrEqual(BOUND_MS)
      const output = (run.answer.body as { output: { timestamp: string; streamLabels: unknown } }).output
      const entries = entriesOf(run)
      expect(entries).toHaveLength(1)
      expect(entries[0]).toEqual({ ...expectedEntry(run), ts: output.timestamp })
      expect(output.streamLabels).toEqual(STREAM)

      // The proxy saw the scripted faults, then exactly one clean forward; every attempt carried
      // the same bytes, so a push stored twice lands on one entry.
      const fault = FAULT_CASES.find((f) => f.slug === slug)!
      const requests = lokiProxy.requestsFor(run.route)
      expect(requests.map((r) => r.fault)).toEqual([...fault.faults, fault.then])
      expect(new Set(requests.map((r) => r.body.toString('utf8'))).size).toBe(1)
      expect(requests[0]!.path).toBe('/loki/api/v1/push')
      expect(pushesStored(run)).toHaveLength(slug === 'once_drop' ? 2 : 1)
    }
  )

  it.each(FAULT_CASES.filter((f) => f.expect === 'error').map((f) => [f.title, f.slug] as const))(
    '%s: ends with a clear error within the retry bound and stores nothing',
    (_title, slug) => {
      const run = runOf(slug)
      expect(run.elapsedMs).toBeLessThanOrEqual(BOUND_MS)
      expect(run.answer.status, run.answer.text).toBe(400)
      const message = messageOf(run.answer)
      expect(message).toMatch(/^Send Log failed: /)
      expect(message).toMatch(FAULT_CASES.find((f) => f.slug === slug)!.message!)
      expect(entriesOf(run)).toEqual([])
      const requests = lokiProxy.requestsFor(run.route)
      expect(requests.length).toBeGreaterThanOrEqual(2)
      expect(requests.length).toBeLessThanOrEqual(deliveryPolicy.maxRetries + 1)
      expect(requests.every((r) => r.upstreamStatus === undefined)).toBe(true)
    }
  )

  it('always forward then drop the answer: says the line may have been stored, and it is stored exactly once', () => {
    const run = runOf('always_drop')
    expect(run.elapsedMs).toBeLessThanOrEqual(BOUND_MS)
    expect(run.answer.status, run.answer.text).toBe(400)
    expect(messageOf(run.answer)).toMatch(/^Send Log failed: .*the event may have been stored \(once at most\) or not/)
    const pushes = pushesStored(run)
    expect(pushes.length).toBeGreaterThanOrEqual(2)
    expect(pushes.length).toBe(lokiProxy.requestsFor(run.route).length)
    expect(new Set(pushes.map((r) => r.body.toString('utf8'))).size).toBe(1)
    const entries = entriesOf(run)
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject(expectedEntry(run))
  })
})

describe('Send Metric with its trail through the fault proxies', () => {
  const runOf = (slug: string): LogRun =>
    theRun(logRuns, `the trail ${slug}`, (r) => r.card === 'sendMetric' && r.slug === slug)

  it.each(TRAIL_CASES.map((t) => [t.title, t] as const))(
    '%s: the answer says what was stored, and each store holds exactly that',
    (_title, trail) => {
      const run = runOf(trail.slug)
      expect(run.elapsedMs).toBeLessThanOrEqual(BOUND_MS)
      const samples = stored.filter((s) => s.metric.__name__ === `${run.event}_metric`)
      const entries = entriesOf(run)
      expect(samples.flatMap((s) => s.values)).toEqual(trail.sampleStored ? [7.25] : [])
      expect(entries).toHaveLength(trail.entryStored ? 1 : 0)
      if (trail.entryStored) {
        expect(entries[0]).toMatchObject(expectedEntry(run))
      }
      if (trail.message === undefined) {
        expect(run.answer.status, run.answer.text).toBe(200)
        // The sample and its line carry the same time: the one the card reported.
        const { timestamp } = (run.answer.body as { output: { timestamp: number } }).output
        expect(samples[0]!.timestamps).toEqual([timestamp])
        expect(entries[0]!.ts).toBe(`${timestamp}000000`)
        const requests = lokiProxy.requestsFor(run.route)
        expect(requests.map((r) => r.fault)).toEqual([...trail.logs.faults, trail.logs.then])
        expect(new Set(requests.map((r) => r.body.toString('utf8'))).size).toBe(1)
      } else {
        expect(run.answer.status, run.answer.text).toBe(400)
        expect(messageOf(run.answer)).toMatch(/^Send Metric failed: /)
        expect(messageOf(run.answer)).toMatch(trail.message)
      }
    }
  )
})

describe('the Loki stand-in after every logs fault', () => {
  it('holds one entry per call answered OK (or said to be maybe stored, and stored), nothing else', () => {
    const expected = logRuns.filter((r) => entriesOf(r).length > 0)
    const answeredOk = logRuns.filter((r) => r.answer.status === 200)
    for (const run of answeredOk) {
      expect(entriesOf(run), `${run.card} ${run.slug}`).toHaveLength(1)
    }
    // Stored without an OK: the pushes whose every answer was dropped (said to be maybe stored), and
    // the trail whose metrics failed (said to be stored).
    expect(expected.filter((r) => r.answer.status !== 200).map((r) => `${r.card} ${r.slug}`)).toEqual([
      'sendLog always_drop',
      'sendMetric logs_always_drop',
      'sendMetric metrics_always_429'
    ])
    expect(loki.counts().stored).toBe(expected.length)
    expect(loki.entries()).toHaveLength(expected.length)
  })

  it('merged exactly the pushes stored a second time, each one a retry the integration logged', () => {
    const storedAgain = logRuns.reduce((total, run) => total + Math.max(0, pushesStored(run).length - 1), 0)
    // Not vacuous: the dropped answers made the integration push stored entries again.
    expect(storedAgain).toBeGreaterThanOrEqual(4)
    expect(loki.counts().duplicatesMerged).toBe(storedAgain)
    expect(loki.counts().duplicatesMerged).toBeLessThanOrEqual(logsRetriesLogged())
  })
})

describe('secrets', () => {
  it('the API key appears nowhere in the integration process output, its command line nor its answers', () => {
    const secrets = [
      vm.password,
      Buffer.from(`${USER_ID}:${vm.password}`).toString('base64'),
      Buffer.from(`${LOGS_USER_ID}:${vm.password}`).toString('base64'),
      encodeURIComponent(vm.password)
    ]
    const output = integration.output()
    // Not vacuous: the integration logged the retries and the failures of this file, and the
    // logs endpoint did receive the key.
    expect(output).toMatch(/Grafana Cloud write: HTTP 503/)
    expect(output).toMatch(/Grafana Cloud Logs write: HTTP 503/)
    expect(output).toMatch(/Send Raw Data failed/)
    expect(output).toMatch(/Send Log failed/)
    expect(lokiProxy.requestsFor('sendLog-once_429')[0]!.headers.authorization).toBe(`Basic ${secrets[2]}`)
    const commandLine = readFileSync(`/proc/${integration.pid}/cmdline`, 'utf8')
    expect(commandLine).toContain('node')
    const answers = [...runs.map((r) => [r.route, r.answer.text]), ...logRuns.map((r) => [r.route, r.answer.text])]
    for (const secret of secrets) {
      expect(output.includes(secret), 'the API key in the process output').toBe(false)
      expect(commandLine.includes(secret), 'the API key on the command line').toBe(false)
      for (const [route, text] of answers) {
        expect(text!.includes(secret), `the API key in the answer to ${route}`).toBe(false)
      }
    }
  })
})
