/**
 * 1. Action overhead: Send Metric / Send Raw Data through the built bundle's HTTP handler,
 * against the floor of posting the identical line-protocol bytes to the same VictoriaMetrics.
 *
 * Three sides, interleaved call by call (the order rotates through all six permutations):
 *  A     action: bench → HTTP POST / (Botpress headers, JSON body) → the bundle served by its
 *        start(port) in a child node process → axios POST to VictoriaMetrics → 204 → 200 answer.
 *  B0    bare post: the bench process itself POSTs the identical bytes with axios (same
 *        options as src/client.ts, without axios-retry) to the same VictoriaMetrics URL.
 *  B1    hop floor: bench → HTTP POST (same Botpress headers, the line-protocol bytes as body)
 *        → a minimal node:http server in a child node process → the same axios POST → 200.
 * Every time is taken in the bench process around the whole call (request start → response end).
 */
import { readFileSync } from 'node:fs'
import axios from 'axios'
import { headersFor } from '../test/helpers/botpress'
import { BUNDLE } from '../test/helpers/integration-process'
import { startVictoriaMetrics, type VictoriaMetrics } from '../test/helpers/servers'
import { buildMetricEvent } from '../src/metric'
import type { SendMetricInput } from '../src/schemas'
import { BUNDLE_LAUNCHER, RELAY_LAUNCHER, spawnNode, type NodeChild } from './lib/children'
import { keepAliveAgent, post } from './lib/http'
import { verdict, type Row, type Section } from './lib/report'
import { median, ms, now, p99, ratio } from './lib/stats'

export interface OverheadOptions {
  /** Calls per side per round. */
  readonly n: number
  readonly rounds: number
  readonly warmup: number
  /** Directory for --cpu-prof of the integration child, when profiling. */
  readonly profileDir?: string
  /** Another build of the bundle (bench/profile.ts: the same build with a source map). */
  readonly bundle?: string
  /** Profiling one card at a time (bench/profile.ts); the bench runs both. */
  readonly only?: 'metric' | 'raw'
}

const BOT_ID = 'bot-bench'
const USER_ID = '1234567'
const API_KEY = 'glc_bench_not_a_real_key'
const TARGET = 1.05

/** 20 conversations × 20 users: the series exist after the warm-up, as on a live bot. */
export const metricInputs = (count = 20): SendMetricInput[] =>
  Array.from({ length: count }, (_, i) => ({
    name: 'flow_completed',
    channel: 'webchat',
    botId: BOT_ID,
    conversationId: `conv_${(i * 7919).toString(36).padStart(6, '0')}`,
    userId: `user_${(i * 104729).toString(36).padStart(6, '0')}`,
    version: '1.4.2',
    value: 250.5,
    tags: { flow: 'checkout', step: 'payment' },
  }))

/** 100 distinct series (the validator refuses two lines of the same series in one body). */
export const rawBody = (lines = 100): string =>
  Array.from({ length: lines }, (_, i) => {
    const kind = i % 4
    if (kind === 0) return `checkout,flow=cart,step=s${i},channel=webchat amount=35.2,items=3i`
    if (kind === 1) return `latency,route=/api/v${i},method=POST value=${(i * 1.37).toFixed(2)}`
    if (kind === 2) return `nlu_confidence,intent=intent_${i},lang=en score=0.${(i * 37) % 100},matched=true`
    return `queue_depth,queue=q${i} value=${i}i`
  }).join('\n')

/** CPU time (user + system) a process has used so far, ms; Linux clock ticks are 10 ms. */
const cpuMs = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state): utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) * 10
}

interface Side {
  readonly name: string
  readonly call: (i: number) => Promise<void>
}

interface Samples {
  readonly action: number[]
  readonly bare: number[]
  readonly hop: number[]
  /** Per-round median ratios, to show the spread between rounds. */
  readonly roundRatios: { bare: number[]; hop: number[] }
  /** CPU ms per call of the integration process and of the relay process (measured calls only). */
  readonly cpuPerCall: { action: number; hop: number }
}

const PERMUTATIONS = [
  [0, 1, 2],
  [1, 2, 0],
  [2, 0, 1],
  [0, 2, 1],
  [2, 1, 0],
  [1, 0, 2],
] as const

/** Runs the three sides interleaved; `prepare` runs before each call, outside its timer. */
const measure = async (
  sides: readonly [Side, Side, Side],
  options: OverheadOptions,
  prepare: (i: number) => void,
  pids: { action: number; hop: number }
): Promise<Samples> => {
  for (let i = 0; i < options.warmup; i++) {
    for (const side of sides) {
      prepare(i)
      await side.call(i)
    }
  }
  const samples: Samples = { action: [], bare: [], hop: [], roundRatios: { bare: [], hop: [] }, cpuPerCall: { action: 0, hop: 0 } }
  const cpuBefore = { action: cpuMs(pids.action), hop: cpuMs(pids.hop) }
  const all = [samples.action, samples.bare, samples.hop]
  for (let round = 0; round < options.rounds; round++) {
    const perRound: number[][] = [[], [], []]
    for (let i = 0; i < options.n; i++) {
      for (const index of PERMUTATIONS[i % PERMUTATIONS.length]!) {
        prepare(i)
        const start = now()
        await sides[index]!.call(i)
        const elapsed = now() - start
        perRound[index]!.push(elapsed)
        all[index]!.push(elapsed)
      }
    }
    samples.roundRatios.bare.push(median(perRound[0]!) / median(perRound[1]!))
    samples.roundRatios.hop.push(median(perRound[0]!) / median(perRound[2]!))
  }
  const calls = options.n * options.rounds
  samples.cpuPerCall.action = (cpuMs(pids.action) - cpuBefore.action) / calls
  samples.cpuPerCall.hop = (cpuMs(pids.hop) - cpuBefore.hop) / calls
  return samples
}

const rowsFor = (label: string, samples: Samples): Row[] => {
  const rows: Row[] = []
  const pairs = [
    ['bare axios post', samples.bare],
    ['same-hop relay', samples.hop],
  ] as const
  for (const [floorName, floor] of pairs) {
    for (const [stat, fn] of [
      ['median', median],
      ['p99', p99],
    ] as const) {
      const r = fn(samples.action) / fn(floor)
      rows.push({
        figure: `${label} vs ${floorName}, ${stat}`,
        ours: ms(fn(samples.action)),
        floor: ms(fn(floor)),
        ratio: ratio(r),
        target: `≤ ${TARGET}`,
        verdict: verdict(r <= TARGET),
      })
    }
  }
  rows.push({
    figure: `${label}: CPU per call, integration process vs relay process`,
    ours: ms(samples.cpuPerCall.action),
    floor: ms(samples.cpuPerCall.hop),
    ratio: ratio(samples.cpuPerCall.action / samples.cpuPerCall.hop),
    target: '—',
    verdict: 'info',
  })
  return rows
}

const spread = (values: number[]): string => `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`

export const runOverhead = async (options: OverheadOptions): Promise<Section> => {
  const cleanup: Array<() => Promise<void>> = []
  try {
    // Without -httpAuth: the integration insists on a numeric user ID, which the helper's random
    // VictoriaMetrics username is not. Both sides still send the identical Basic header.
    const vm: VictoriaMetrics = await startVictoriaMetrics({ auth: false })
    cleanup.push(() => vm.stop())
    const writeUrl = `${vm.url}/influx/write`
    const configuration = { grafanaUrl: writeUrl, grafanaUserId: USER_ID, apiKey: API_KEY }

    const integration: NodeChild = await spawnNode(BUNDLE_LAUNCHER, {
      env: { BUNDLE: options.bundle ?? BUNDLE },
      nodeFlags: options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, '--cpu-prof-name=integration.cpuprofile'] : [],
    })
    cleanup.push(() => integration.stop())
    const relay: NodeChild = await spawnNode(RELAY_LAUNCHER, {
      nodeFlags: options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, '--cpu-prof-name=relay.cpuprofile'] : [],
      env: { AXIOS: require.resolve('axios'), TARGET: writeUrl, RELAY_USER: USER_ID, RELAY_PASSWORD: API_KEY },
    })
    cleanup.push(() => relay.stop())
    await Promise.all([integration.listening, relay.listening])
    const pids = { action: integration.pid, hop: relay.pid }

    const bare = axios.create({ transformRequest: [(data: string) => data], responseType: 'text', maxRedirects: 0 })
    const barePost = async (body: string): Promise<void> => {
      const res = await bare.post(writeUrl, body, {
        params: { precision: 'ms' },
        auth: { username: USER_ID, password: API_KEY },
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
        timeout: 10_000,
      })
      if (res.status !== 204) throw new Error(`bare post: HTTP ${res.status}`)
    }
    const headers = headersFor('action_triggered', configuration, BOT_ID)
    const actionAgent = keepAliveAgent()
    const relayAgent = keepAliveAgent()
    const callAction = async (body: string, check: (text: string) => boolean): Promise<void> => {
      const answer = await post(actionAgent, `${integration.url}/`, headers, body)
      if (answer.status !== 200 || !check(answer.text)) {
        throw new Error(`action answered ${answer.status}: ${answer.text.slice(0, 300)}`)
      }
    }
    const callRelay = async (body: string): Promise<void> => {
      const answer = await post(relayAgent, `${relay.url}/`, headers, body)
      if (answer.status !== 200) throw new Error(`relay answered ${answer.status}: ${answer.text.slice(0, 300)}`)
    }

    // Send Metric. The floor's line is built before its timer starts, with a fresh timestamp.
    const inputs = metricInputs()
    const metricBodies = inputs.map((input) => JSON.stringify({ type: 'sendMetric', input }))
    const lineFor = (i: number): string =>
      buildMetricEvent(inputs[i % inputs.length]!, { botId: BOT_ID, includeConversationAndUserIds: true }, Date.now()).line
    let pendingLine = ''
    const skip = async (): Promise<Samples> => ({ action: [], bare: [], hop: [], roundRatios: { bare: [], hop: [] }, cpuPerCall: { action: 0, hop: 0 } })
    const metric = options.only === 'raw' ? await skip() : await measure(
      [
        { name: 'action', call: (i) => callAction(metricBodies[i % metricBodies.length]!, (t) => t.includes('flow_completed_metric')) },
        { name: 'bare', call: () => barePost(pendingLine) },
        { name: 'hop', call: () => callRelay(pendingLine) },
      ],
      options,
      (i) => {
        pendingLine = lineFor(i)
      },
      pids
    )

    // Send Raw Data, 100 lines: the floor sends what the integration sends (each line + " <ms>").
    const data = rawBody(100)
    const rawRequest = JSON.stringify({ type: 'sendRawData', input: { data } })
    const rawLines = data.split('\n')
    let pendingBody = ''
    const stamp = (): string => {
      const ts = Date.now()
      return rawLines.map((line) => `${line} ${ts}`).join('\n')
    }
    const raw = options.only === 'metric' ? await skip() : await measure(
      [
        { name: 'action', call: () => callAction(rawRequest, (t) => t.includes('"linesSent":100')) },
        { name: 'bare', call: () => barePost(pendingBody) },
        { name: 'hop', call: () => callRelay(pendingBody) },
      ],
      options,
      () => {
        pendingBody = stamp()
      },
      pids
    )

    // The writes landed: 20 Send Metric series and the raw-data series are in VictoriaMetrics.
    await vm.flush()
    const series = await fetch(`${vm.url}/api/v1/series?match[]=flow_completed_metric&match[]={__name__=~"checkout_.*"}`)
    const found = ((await series.json()) as { data: unknown[] }).data.length
    if (options.only === undefined && found !== 20 + 25 * 2) {
      throw new Error(`expected 70 series in VictoriaMetrics after the run, found ${found}`)
    }

    actionAgent.destroy()
    relayAgent.destroy()
    const total = options.n * options.rounds
    return {
      title: '1. Action overhead',
      rows: [...rowsFor('Send Metric', metric), ...rowsFor('Send Raw Data (100 lines)', raw)],
      notes: [
        `${options.rounds} rounds × ${options.n} calls per side (${total} per side in all, after ${options.warmup} warm-up calls per side), ` +
          'interleaved call by call: each iteration runs the three sides in one of the six orders, in rotation. ' +
          'Medians and p99 are over all calls of all rounds. ' +
          `Per-round ratio of medians, Send Metric: ${spread(metric.roundRatios.bare)} (bare), ${spread(metric.roundRatios.hop)} (same hop); ` +
          `Send Raw Data: ${spread(raw.roundRatios.bare)} (bare), ${spread(raw.roundRatios.hop)} (same hop).`,
        '**Ours (action)**: the bench POSTs `/` with the headers Botpress Cloud sends (`x-bp-operation: action_triggered`, ' +
          '`x-bp-configuration`, bot and integration ids) and the JSON body `{"type":"sendMetric","input":{…}}` to the built bundle ' +
          '(`.botpress/dist/index.js`) served by its own `start(port)` in a child `node` process; the bundle validates, builds the ' +
          'line and POSTs it with axios (+ axios-retry) to VictoriaMetrics `/influx/write?precision=ms`; the time ends when the ' +
          "action's 200 answer has been read. One keep-alive socket per target, calls strictly sequential.",
        '**Floor, bare axios post**: the bench process POSTs the identical line-protocol bytes (built before the timer starts, ' +
          'fresh ms timestamp) with axios to the same URL, same query, same Basic auth header, same content type. No HTTP hop, no ' +
          'second process. This is the honest "what a write costs" floor, but it cannot be reached by any integration: Botpress ' +
          'always calls an integration over HTTP.',
        '**Floor, same hop**: the bench POSTs the same Botpress headers with the line-protocol bytes as body to a trivial ' +
          '`node:http` server in a child `node` process, which reads the body (as the sdk does) and POSTs those bytes with plain ' +
          'axios to VictoriaMetrics, then answers 200. Its difference to the action is what the sdk and our code add on top of an ' +
          'unavoidable hop: sdk request parsing and a `@botpress/client` instance per request, our configuration/input parsing, ' +
          'line building or validation, axios-retry.',
        '**CPU per call** (info rows): user + system CPU time of the integration child and of the relay child, read from ' +
          '`/proc/<pid>/stat` before and after the measured calls, divided by the number of calls. Unlike wall time it does not ' +
          'depend on what else the machine runs, and it isolates the server side of the hop: sdk + our code + axios-retry + ' +
          'axios against plain node:http + axios.',
        'VictoriaMetrics runs without `-httpAuth` (our configuration requires a numeric user ID, the test helper generates a ' +
          'non-numeric one); both sides still send the same Basic header. The run ends by checking that the 70 series written ' +
          'are in VictoriaMetrics.',
      ],
    }
  } finally {
    for (const stop of cleanup.reverse()) await stop()
  }
}
