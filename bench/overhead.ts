/**
 * 1. Action overhead: Send Metric / Send Raw Data through the built bundle's HTTP handler,
 * against the floor of posting the identical line-protocol bytes to the same VictoriaMetrics.
 *
 * Four sides, interleaved call by call (the order rotates):
 *  A     action: bench → HTTP POST / (Botpress headers, JSON body) → the bundle served by its
 *        start(port) in a child node process → axios POST to VictoriaMetrics → 204 → 200 answer.
 *  S     sdk floor: the same request to a minimal integration built with the same CLI and sdk,
 *        whose one action POSTs the identical bytes with plain axios (bench/cold-start.ts).
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
import { prepareEmptyIntegration } from './cold-start'
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
  /** Rebuilds the generated sdk floor in its folder (bench/profile.ts: with a source map). */
  readonly floorBundle?: (projectDir: string) => Promise<string>
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
  readonly name: SideName
  readonly call: (i: number) => Promise<void>
}

type SideName = 'action' | 'sdk' | 'hop' | 'bare'

interface Samples {
  readonly times: Record<SideName, number[]>
  /** Per-round ratios of medians (action / floor), to show the spread between rounds. */
  readonly roundRatios: Record<Exclude<SideName, 'action'>, number[]>
  /** CPU ms per call of the processes that serve a side (measured calls only). */
  readonly cpuPerCall: Partial<Record<SideName, number>>
}

/** Call orders: every rotation of the sides, forwards and backwards (8 orders for 4 sides). */
const orders = (k: number): number[][] => {
  const out: number[][] = []
  for (let r = 0; r < k; r++) {
    const rotation = Array.from({ length: k }, (_, i) => (i + r) % k)
    out.push(rotation, [...rotation].reverse())
  }
  return out
}

/** Runs the sides interleaved; `prepare` runs before each call, outside its timer. */
const measure = async (
  sides: readonly Side[],
  options: OverheadOptions,
  prepare: (i: number) => void,
  pids: Partial<Record<SideName, number>>
): Promise<Samples> => {
  for (let i = 0; i < options.warmup; i++) {
    for (const side of sides) {
      prepare(i)
      await side.call(i)
    }
  }
  const samples: Samples = {
    times: { action: [], sdk: [], hop: [], bare: [] },
    roundRatios: { sdk: [], hop: [], bare: [] },
    cpuPerCall: {},
  }
  const cpuBefore = Object.fromEntries(Object.entries(pids).map(([side, pid]) => [side, cpuMs(pid)]))
  const sequence = orders(sides.length)
  for (let round = 0; round < options.rounds; round++) {
    const perRound: Record<SideName, number[]> = { action: [], sdk: [], hop: [], bare: [] }
    for (let i = 0; i < options.n; i++) {
      for (const index of sequence[i % sequence.length]!) {
        const side = sides[index]!
        prepare(i)
        const start = now()
        await side.call(i)
        const elapsed = now() - start
        perRound[side.name].push(elapsed)
        samples.times[side.name].push(elapsed)
      }
    }
    for (const floor of ['sdk', 'hop', 'bare'] as const) {
      samples.roundRatios[floor].push(median(perRound.action) / median(perRound[floor]))
    }
  }
  const calls = options.n * options.rounds
  for (const [side, pid] of Object.entries(pids) as Array<[SideName, number]>) {
    samples.cpuPerCall[side] = (cpuMs(pid) - cpuBefore[side]!) / calls
  }
  return samples
}

const FLOOR_NAMES: Record<Exclude<SideName, 'action'>, string> = {
  sdk: 'sdk floor (minimal integration)',
  hop: 'same-hop relay',
  bare: 'bare axios post',
}

const rowsFor = (label: string, samples: Samples): Row[] => {
  const rows: Row[] = []
  const { action } = samples.times
  for (const floor of ['sdk', 'hop', 'bare'] as const) {
    for (const [stat, fn] of [
      ['median', median],
      ['p99', p99],
    ] as const) {
      const r = fn(action) / fn(samples.times[floor])
      rows.push({
        figure: `${label} vs ${FLOOR_NAMES[floor]}, ${stat}`,
        ours: ms(fn(action)),
        floor: ms(fn(samples.times[floor])),
        ratio: ratio(r),
        target: `≤ ${TARGET}`,
        verdict: verdict(r <= TARGET),
      })
    }
  }
  const cpu = samples.cpuPerCall
  rows.push({
    figure: `${label}: CPU per call of the serving process (integration vs sdk floor; relay)`,
    ours: ms(cpu.action ?? Number.NaN),
    floor: `${ms(cpu.sdk ?? Number.NaN)}; relay ${ms(cpu.hop ?? Number.NaN)}`,
    ratio: `${ratio((cpu.action ?? Number.NaN) / (cpu.sdk ?? Number.NaN))}; ${ratio((cpu.action ?? Number.NaN) / (cpu.hop ?? Number.NaN))}`,
    target: '—',
    verdict: 'info',
  })
  return rows
}

const spread = (values: number[]): string => `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`

export const runOverhead = async (options: OverheadOptions): Promise<Section> => {
  const cleanup: Array<() => Promise<void>> = []
  try {
    const sdkFloor = await prepareEmptyIntegration('forward')
    cleanup.push(() => sdkFloor.remove())
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
    const minimal: NodeChild = await spawnNode(BUNDLE_LAUNCHER, {
      env: { BUNDLE: options.floorBundle ? await options.floorBundle(sdkFloor.dir) : sdkFloor.bundle },
      nodeFlags: options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, '--cpu-prof-name=sdk-floor.cpuprofile'] : [],
    })
    cleanup.push(() => minimal.stop())
    await Promise.all([integration.listening, relay.listening, minimal.listening])
    const pids = { action: integration.pid, hop: relay.pid, sdk: minimal.pid }

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
    const sdkAgent = keepAliveAgent()
    const sdkHeaders = headersFor('action_triggered', { url: writeUrl, user: USER_ID, key: API_KEY }, BOT_ID)
    const callSdkFloor = async (data: string): Promise<void> => {
      const answer = await post(sdkAgent, `${minimal.url}/`, sdkHeaders, JSON.stringify({ type: 'forward', input: { data } }))
      if (answer.status !== 200) throw new Error(`sdk floor answered ${answer.status}: ${answer.text.slice(0, 300)}`)
    }
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
    const skip = async (): Promise<Samples> => ({
      times: { action: [], sdk: [], hop: [], bare: [] },
      roundRatios: { sdk: [], hop: [], bare: [] },
      cpuPerCall: {},
    })
    const metric = options.only === 'raw' ? await skip() : await measure(
      [
        { name: 'action', call: (i) => callAction(metricBodies[i % metricBodies.length]!, (t) => t.includes('flow_completed_metric')) },
        { name: 'sdk', call: () => callSdkFloor(pendingLine) },
        { name: 'hop', call: () => callRelay(pendingLine) },
        { name: 'bare', call: () => barePost(pendingLine) },
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
        { name: 'sdk', call: () => callSdkFloor(pendingBody) },
        { name: 'hop', call: () => callRelay(pendingBody) },
        { name: 'bare', call: () => barePost(pendingBody) },
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

    for (const agent of [actionAgent, relayAgent, sdkAgent]) agent.destroy()
    const spreads = (s: Samples) =>
      (['sdk', 'hop', 'bare'] as const).map((f) => `${spread(s.roundRatios[f])} (${FLOOR_NAMES[f]})`).join(', ')
    const total = options.n * options.rounds
    return {
      title: '1. Action overhead',
      rows: [...rowsFor('Send Metric', metric), ...rowsFor('Send Raw Data (100 lines)', raw)],
      notes: [
        `${options.rounds} rounds × ${options.n} calls per side (${total} per side in all, after ${options.warmup} warm-up calls per side), ` +
          'interleaved call by call: each iteration runs the four sides in one of eight orders (every rotation, forwards and ' +
          'backwards), in turn. Medians and p99 are over all calls of all rounds. ' +
          `Per-round ratios of medians, Send Metric: ${spreads(metric)}; Send Raw Data: ${spreads(raw)}.`,
        '**Ours (action)**: the bench POSTs `/` with the headers Botpress Cloud sends (`x-bp-operation: action_triggered`, ' +
          '`x-bp-configuration`, bot and integration ids) and the JSON body `{"type":"sendMetric","input":{…}}` to the built bundle ' +
          '(`.botpress/dist/index.js`) served by its own `start(port)` in a child `node` process; the bundle validates, builds the ' +
          'line and POSTs it with axios (+ axios-retry) to VictoriaMetrics `/influx/write?precision=ms`; the time ends when the ' +
          "action's 200 answer has been read. One keep-alive socket per target, calls strictly sequential.",
        '**Floor, minimal integration (sdk floor)**: an integration generated on every run like the empty one of section 2 ' +
          "(`bp init`, same CLI and sdk, this repo's node_modules, `bp build`), whose one action `forward` POSTs its input " +
          '`data` — the identical line-protocol bytes, built before the timer starts — with plain axios (the options of ' +
          '`src/client.ts`, no axios-retry) and returns `{}`; served and called exactly like ours (own child process, Botpress ' +
          'headers, JSON body). This is the fairest floor for "what our code adds": same HTTP hop, same sdk, same write; it does ' +
          'not validate, build lines or retry.',
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
          'depend on what else the machine runs as much, and it isolates the server side of the hop. Also read for the sdk ' +
          'floor and the relay.',
        'VictoriaMetrics runs without `-httpAuth` (its check would cost every side the same); all sides still send the same ' +
          'Basic header. The run ends by checking that the 70 series written are in VictoriaMetrics.',
      ],
    }
  } finally {
    for (const stop of cleanup.reverse()) await stop()
  }
}
