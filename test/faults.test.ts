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
 * Every case has its own proxy route and its own metric names, so all cases run at once (hang
 * cases cost a full attempt timeout each). Finally, the integration process's output and every
 * answer it gave are searched for the API key (and its Basic-auth encoding).
 *
 * VictoriaMetrics' Basic-auth user is a numeric user ID (the integration's must be digits); the
 * random password from dev/servers.ts is the API key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { triggerAction, type IntegrationAnswer } from '../dev/botpress'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'
import { startVictoriaMetrics, type ExportedSeries, type VictoriaMetrics } from '../dev/servers'
import { deliveryPolicy } from '../src/retry-policy'
import { startFaultProxy, type Fault, type FaultProxy } from './helpers/fault-proxy'

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

let vm: VictoriaMetrics
let proxy: FaultProxy
let integration: IntegrationProcess
const runs: Run[] = []
/** The final export of every series this file wrote, after the writes settled. */
let stored: ExportedSeries[] = []

const exportAll = (): Promise<ExportedSeries[]> => vm.exportSeries('{__name__=~"fault_.*"}')

const seriesOf = (all: ExportedSeries[], prefix: string) => all.filter((s) => s.metric.__name__!.startsWith(prefix))

const inputFor = (card: Card, prefix: string) =>
  card === 'sendMetric'
    ? {
        name: prefix,
        channel: 'web',
        botId: 'bot-faults',
        conversationId: 'conv-1',
        userId: 'user-1',
        version: '1.4.2',
        value: 7.25
      }
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
          labels: { channel: 'web', botId: 'bot-faults', conversationId: 'conv-1', userId: 'user-1', version: '1.4.2' },
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

beforeAll(async () => {
  vm = await startVictoriaMetrics({ username: USER_ID })
  proxy = await startFaultProxy(vm.url, { maxHangMs: 60_000 })
  integration = await startIntegrationProcess()

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
  runs.push(...(await Promise.all(pending)))
  console.log(
    `Fault runs (bound ${BOUND_MS} ms = budget ${deliveryPolicy.budgetMs} + attempt timeout ${deliveryPolicy.attemptTimeoutMs} + margin ${MARGIN_MS}):\n` +
      runs
        .map((r) => {
          const attempts = proxy
            .requestsFor(r.route)
            .map((q) => q.fault)
            .join(' → ')
          const said = r.answer.status === 200 ? 'ok' : messageOf(r.answer).slice(0, 150)
          return `  ${r.card.padEnd(11)} ${r.fault.slug.padEnd(12)} ${String(r.elapsedMs).padStart(6)} ms  HTTP ${r.answer.status}  [${attempts}]  ${said}`
        })
        .join('\n')
  )

  // Fresh writes show in VM 1.79's export a moment after force_flush: poll (bounded) until every
  // successful run is visible, then wait a little more, so that a late duplicate would show too.
  const succeeded = runs.filter((r) => r.answer.status === 200 || r.fault.expect === 'error-stored-once')
  const deadline = Date.now() + 20_000
  for (let attempt = 0; attempt < 80 && Date.now() < deadline; attempt++) {
    stored = await exportAll()
    if (succeeded.every((r) => seriesOf(stored, r.prefix).length >= expectedSeries(r.card, r.prefix).length)) {
      break
    }
    await sleep(250)
  }
  await sleep(1_500)
  stored = await exportAll()
}, 120_000)

afterAll(async () => {
  await integration?.stop()
  await proxy?.close()
  await vm?.stop()
})

describe.each(['sendMetric', 'sendRawData'] as const)('%s through the fault proxy', (card) => {
  const runOf = (slug: string): Run => {
    const run = runs.find((r) => r.card === card && r.fault.slug === slug)
    if (run === undefined) {
      throw new Error(`no run for ${card} ${slug}`)
    }
    return run
  }

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

describe('secrets', () => {
  it('the API key appears nowhere in the integration process output nor in its answers', () => {
    const secrets = [
      vm.password,
      Buffer.from(`${USER_ID}:${vm.password}`).toString('base64'),
      encodeURIComponent(vm.password)
    ]
    const output = integration.output()
    // Not vacuous: the integration logged the retries and the failures of this file.
    expect(output).toMatch(/Grafana Cloud write: HTTP 503/)
    expect(output).toMatch(/Send Raw Data failed/)
    for (const secret of secrets) {
      expect(output.includes(secret), 'the API key in the process output').toBe(false)
      for (const run of runs) {
        expect(run.answer.text.includes(secret), `the API key in the answer to ${run.route}`).toBe(false)
      }
    }
  })
})
