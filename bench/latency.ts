/**
 * 1. What a card adds to a bot's flow: Send Metric and Send Raw Data (10 lines) through the
 * proxy that adds a 20 ms round trip, against the sdk floor writing the same lines through the
 * same proxy. Calls one after another over one keep-alive socket per side, the two sides
 * alternating call by call; also the CPU each serving process spends per call.
 */
import { cpuMs } from '../dev/processes'
import { keepAliveAgent } from './lib/http'
import { metricInput, rawData } from './lib/inputs'
import { verdict, type Row, type Section } from './lib/report'
import { ONE_WAY_DELAY_MS, type Stage } from './lib/stage'
import { median, ms, now, p99, ratio } from './lib/stats'

const TIME_TARGET = 1.01
const CPU_TARGET = 1.15
const RAW_LINES = 10

export interface LatencyOptions {
  /** Measured calls per side and card. */
  readonly calls: number
  readonly warmup: number
}

export interface Measured {
  readonly times: { ours: number[]; floor: number[] }
  readonly cpuPerCall: { ours: number; floor: number }
}

export const measure = async (
  stage: Stage,
  options: LatencyOptions,
  ours: () => Promise<unknown>,
  floor: () => Promise<unknown>
): Promise<Measured> => {
  for (let i = 0; i < options.warmup; i++) {
    await ours()
    await floor()
  }
  const times = { ours: [] as number[], floor: [] as number[] }
  const timed = async (side: 'ours' | 'floor') => {
    const start = now()
    await (side === 'ours' ? ours() : floor())
    times[side].push(now() - start)
  }
  const cpuBefore = { ours: cpuMs(stage.oursPid), floor: cpuMs(stage.floorPid) }
  for (let i = 0; i < options.calls; i++) {
    const order = i % 2 === 0 ? (['ours', 'floor'] as const) : (['floor', 'ours'] as const)
    for (const side of order) await timed(side)
  }
  return {
    times,
    cpuPerCall: {
      ours: (cpuMs(stage.oursPid) - cpuBefore.ours) / options.calls,
      floor: (cpuMs(stage.floorPid) - cpuBefore.floor) / options.calls
    }
  }
}

export const rowsFor = (card: string, m: Measured): Row[] => {
  const rows: Row[] = (
    [
      ['median', median],
      ['p99', p99]
    ] as const
  ).map(([stat, of]) => {
    const r = of(m.times.ours) / of(m.times.floor)
    return {
      figure: `${card}, time per call, ${stat}`,
      ours: ms(of(m.times.ours)),
      floor: ms(of(m.times.floor)),
      ratio: ratio(r),
      target: `≤ ${TIME_TARGET}`,
      verdict: verdict(r <= TIME_TARGET)
    }
  })
  const cpu = m.cpuPerCall.ours / m.cpuPerCall.floor
  rows.push({
    figure: `${card}, CPU per call of the serving process`,
    ours: ms(m.cpuPerCall.ours),
    floor: ms(m.cpuPerCall.floor),
    ratio: ratio(cpu),
    target: `≤ ${CPU_TARGET}`,
    verdict: verdict(cpu <= CPU_TARGET)
  })
  return rows
}

export const runLatency = async (stage: Stage, options: LatencyOptions): Promise<Section> => {
  const oursAgent = keepAliveAgent()
  const floorAgent = keepAliveAgent()
  try {
    const metric = metricInput()
    const metricLines = await stage.linesOf('sendMetric', metric)
    const metricResult = await measure(
      stage,
      options,
      () => stage.ours(oursAgent, 'sendMetric', metric),
      () => stage.floor(floorAgent, metricLines)
    )
    const raw = { data: rawData(RAW_LINES) }
    const rawLines = await stage.linesOf('sendRawData', raw)
    const rawResult = await measure(
      stage,
      options,
      () => stage.ours(oursAgent, 'sendRawData', raw),
      () => stage.floor(floorAgent, rawLines)
    )
    return {
      title: '1. A card through a 20 ms round trip',
      rows: [...rowsFor('Send Metric', metricResult), ...rowsFor(`Send Raw Data (${RAW_LINES} lines)`, rawResult)],
      notes: [
        `${options.calls} calls per side and card after ${options.warmup} warm-up calls, one after another, the two sides ` +
          'alternating call by call (which goes first flips every call); p99 by nearest rank.',
        '**Ours**: the bench POSTs `/` with the headers Botpress Cloud sends (`x-bp-operation: action_triggered`, ' +
          '`x-bp-configuration`, bot and integration ids) and the JSON body `{"type":"sendMetric","input":{…}}` to the built ' +
          'bundle (`.botpress/dist/index.js`) served by its own `start(port)` in a child `node` process; the time ends when the ' +
          'answer has been read. Its configuration points at a proxy in the bench process that holds every request and every ' +
          `answer back ${ONE_WAY_DELAY_MS} ms (a ${2 * ONE_WAY_DELAY_MS} ms round trip, Grafana Cloud from a nearby region) ` +
          'and forwards to a local VictoriaMetrics over keep-alive sockets.',
        '**sdk floor**: an integration generated on every run with the same CLI (`bp init`, offline), the same sdk and the ' +
          'same `bp build`, served and called the same way, whose one action appends a timestamp to the lines it is given and ' +
          'POSTs them with plain axios (the options of `src/client.ts`, no retries) through the same proxy. It is given the ' +
          'exact lines our action wrote for the same input (caught at the proxy before the run), so both write the same bytes.',
        '**CPU per call**: user + system time of each serving process from `/proc/<pid>/stat` around the measured calls, ' +
          'divided by the calls (10 ms ticks).'
      ]
    }
  } finally {
    oursAgent.destroy()
    floorAgent.destroy()
  }
}
