/**
 * 2. How many Send Metric calls one integration process sustains with 50 in flight, against the
 * sdk floor, and whether every call answered OK is one sample in storage. The events are
 * identical (same name and labels, value 1, ID labels off: the setting for busy bots), so two
 * calls stamped with the same millisecond are one sample in VictoriaMetrics' dedup, as in Mimir.
 */
import { cpuMs } from '../dev/processes'
import type { VictoriaMetrics } from '../dev/servers'
import { keepAliveAgent, type Answer } from './lib/http'
import { metricInput } from './lib/inputs'
import { verdict, type Section } from './lib/report'
import type { Stage } from './lib/stage'
import { count, ms, now } from './lib/stats'

const IN_FLIGHT = 50

export interface ThroughputOptions {
  readonly rounds: number
  /** Length of one round per side. */
  readonly roundMs: number
}

interface Burst {
  readonly ok: number
  readonly failed: number
  readonly elapsedMs: number
}

/** Keeps IN_FLIGHT calls going until `durationMs` has passed; every answer goes to `onOk`. */
const burst = async (
  call: () => Promise<Answer>,
  durationMs: number,
  onOk: (answer: Answer) => void,
  errors: string[]
): Promise<Burst> => {
  let ok = 0
  let failed = 0
  const start = now()
  const worker = async () => {
    while (now() - start < durationMs) {
      try {
        onOk(await call())
        ok++
      } catch (error) {
        failed++
        if (errors.length < 3) errors.push(error instanceof Error ? error.message : String(error))
      }
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  return { ok, failed, elapsedMs: now() - start }
}

/** Samples VictoriaMetrics holds for `series` between the two times (ms), from /api/v1/export. */
const storedSamples = async (vm: VictoriaMetrics, series: string, fromMs: number, toMs: number): Promise<number> => {
  await vm.flush()
  const query = new URLSearchParams({
    'match[]': `{__name__=${JSON.stringify(series)}}`,
    start: String(fromMs / 1000),
    end: String(toMs / 1000)
  })
  const res = await fetch(`${vm.url}/api/v1/export?${query}`, { headers: { authorization: vm.authorization! } })
  const text = await res.text()
  if (!res.ok) throw new Error(`export of ${series}: HTTP ${res.status} ${text.slice(0, 200)}`)
  return text
    .split('\n')
    .filter((line) => line !== '')
    .reduce((n, line) => n + (JSON.parse(line) as { values: unknown[] }).values.length, 0)
}

export const runThroughput = async (stage: Stage, options: ThroughputOptions): Promise<Section> => {
  const agent = keepAliveAgent(IN_FLIGHT)
  try {
    const input = { ...metricInput('bench_throughput'), value: 1 }
    const floorLines = await stage.linesOf('sendMetric', { ...input, name: 'bench_throughput_floor' }, { ids: false })
    const startedAt = Date.now() - 1_000
    let series = ''
    let latestStamp = 0
    const countOurs = (answer: Answer) => {
      const { output } = JSON.parse(answer.text) as { output: { seriesName: string; timestamp: number } }
      series = output.seriesName
      latestStamp = Math.max(latestStamp, output.timestamp)
    }
    const ours = () => stage.ours(agent, 'sendMetric', input, { ids: false })
    const floor = () => stage.floor(agent, floorLines)
    const errors = { ours: [] as string[], floor: [] as string[] }
    const all = { ours: [] as Burst[], floor: [] as Burst[] }
    const measured = { ours: [] as Burst[], floor: [] as Burst[] }
    // CPU of the serving process and of the bench process (client and proxy) over the measured rounds.
    const cpu = { ours: 0, floor: 0, bench: { ours: 0, floor: 0 } }
    const run = async (side: 'ours' | 'floor', durationMs: number, keep: boolean) => {
      const pid = side === 'ours' ? stage.oursPid : stage.floorPid
      const before = { served: cpuMs(pid), bench: process.cpuUsage() }
      const b = await burst(
        side === 'ours' ? ours : floor,
        durationMs,
        side === 'ours' ? countOurs : () => undefined,
        errors[side]
      )
      all[side].push(b)
      if (keep) {
        measured[side].push(b)
        cpu[side] += cpuMs(pid) - before.served
        const used = process.cpuUsage(before.bench)
        cpu.bench[side] += (used.user + used.system) / 1000
      }
    }
    await run('ours', 1_000, false)
    await run('floor', 1_000, false)
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? (['ours', 'floor'] as const) : (['floor', 'ours'] as const)
      for (const side of order) await run(side, options.roundMs, true)
    }
    const rate = (bursts: Burst[]) =>
      bursts.reduce((n, b) => n + b.ok, 0) / (bursts.reduce((t, b) => t + b.elapsedMs, 0) / 1000)
    const perRound = (bursts: Burst[]) => bursts.map((b) => (b.ok / (b.elapsedMs / 1000)).toFixed(0)).join(', ')
    const answered = all.ours.reduce((n, b) => n + b.ok, 0)
    const refused = all.ours.reduce((n, b) => n + b.failed, 0)
    const floorRefused = all.floor.reduce((n, b) => n + b.failed, 0)
    // Samples can be stamped ahead of the clock: read up to a second past the latest stamp given out.
    const stored = await storedSamples(stage.vm, series, startedAt, Math.max(latestStamp, Date.now()) + 1_000)
    const lost = answered - stored
    const calls = (bursts: Burst[]) => bursts.reduce((n, b) => n + b.ok + b.failed, 0)
    const perCall = (side: 'ours' | 'floor') =>
      `${ms(cpu[side] / calls(measured[side]))} in the serving process, ${ms(cpu.bench[side] / calls(measured[side]))} in the bench process`
    const oursRate = rate(measured.ours)
    const floorRate = rate(measured.floor)
    return {
      title: '2. Calls one process sustains',
      rows: [
        {
          figure: `Send Metric calls per second, ${IN_FLIGHT} in flight`,
          ours: `${oursRate.toFixed(0)} /s`,
          floor: `${floorRate.toFixed(0)} /s`,
          ratio: `${(oursRate / floorRate).toFixed(3)}×`,
          target: '—',
          verdict: 'info'
        },
        {
          figure: 'Events lost: answered OK − samples stored',
          ours: `${count(lost)} of ${count(answered)} (${((100 * lost) / answered).toFixed(1)} %)`,
          floor: '—',
          ratio: '—',
          target: '0',
          verdict: verdict(lost === 0)
        },
        {
          figure: 'Calls not answered OK',
          ours: String(refused),
          floor: String(floorRefused),
          ratio: '—',
          target: '0',
          verdict: verdict(refused === 0)
        }
      ],
      notes: [
        `${options.rounds} rounds of ${(options.roundMs / 1000).toFixed(0)} s per side after 1 s of warm-up each, the sides ` +
          `alternating round by round (which goes first flips every round); ${IN_FLIGHT} calls in flight at all times over ` +
          `${IN_FLIGHT} keep-alive sockets, through the same 20 ms proxy as section 1. Calls per second = calls answered OK in ` +
          `the measured rounds / their time. Per round, ours: ${perRound(measured.ours)}; floor: ${perRound(measured.floor)}. ` +
          `CPU per call, ours: ${perCall('ours')}; floor: ${perCall('floor')}.`,
        'Every call is the same event: Send Metric `bench_throughput`, the same labels, value 1, "Label events with ' +
          'conversation and user IDs" off. The floor writes the line ours writes (named `bench_throughput_floor`, so the two ' +
          'never share a series) with `Date.now()` as its timestamp.',
        `**Loss**: every call of ours answered 200 (warm-up included: ${count(answered)}) against the samples of \`${series}\` ` +
          'in VictoriaMetrics, started with `-dedup.minScrapeInterval=1ms` (one sample per series and millisecond, as Mimir ' +
          'keeps), counted exactly with `/api/v1/export` (summed over every series of the metric) from a second before the ' +
          'first call to a second after the latest timestamp an answer reported.' +
          (errors.ours.length + errors.floor.length > 0
            ? ` First errors: ${[...errors.ours, ...errors.floor].join(' | ')}`
            : '')
      ]
    }
  } finally {
    agent.destroy()
  }
}
