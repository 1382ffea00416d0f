/**
 * 3. Cold start: a fresh node process loads a built bundle, serves it with the sdk's
 * start(port) and answers its first action, which writes one line through the 20 ms proxy:
 * ours (Send Metric) against the sdk floor writing the same line. Also the bundle sizes.
 */
import { statSync } from 'node:fs'
import { BUNDLE, startIntegrationProcess } from '../dev/integration-process'
import { keepAliveAgent, post } from './lib/http'
import { metricInput } from './lib/inputs'
import { verdict, type Section } from './lib/report'
import type { SdkFloor } from './lib/sdk-floor'
import { actionBody, floorBody, type Stage } from './lib/stage'
import { kib, median, ms, now, p99, ratio } from './lib/stats'

const TIME_TARGET = 1.1
const SIZE_TARGET = 60 * 1024

interface ColdStart {
  /** spawn → first answer read. */
  readonly total: number
  /** The server listens → first answer read. */
  readonly first: number
}

const coldStart = async (bundle: string, headers: Record<string, string>, body: string): Promise<ColdStart> => {
  const child = await startIntegrationProcess({ bundle })
  const agent = keepAliveAgent()
  try {
    const answer = await post(agent, `${child.url}/`, headers, body)
    const end = now()
    if (answer.status !== 200) throw new Error(`first action answered ${answer.status}: ${answer.text.slice(0, 300)}`)
    return { total: end - child.spawnedAt, first: end - child.listeningAt }
  } finally {
    agent.destroy()
    await child.stop()
  }
}

export const runColdStart = async (stage: Stage, sdkFloor: SdkFloor, options: { rounds: number }): Promise<Section> => {
  const input = metricInput()
  const lines = await stage.linesOf('sendMetric', input)
  const ours = () => coldStart(BUNDLE, stage.oursHeaders, actionBody('sendMetric', input))
  const floor = () => coldStart(sdkFloor.bundle, stage.floorHeaders, floorBody(lines))
  // A discarded round first warms the page cache for node, both bundles and node_modules.
  await ours()
  await floor()
  const samples = { ours: [] as ColdStart[], floor: [] as ColdStart[] }
  for (let round = 0; round < options.rounds; round++) {
    if (round % 2 === 0) {
      samples.ours.push(await ours())
      samples.floor.push(await floor())
    } else {
      samples.floor.push(await floor())
      samples.ours.push(await ours())
    }
  }
  const of = (side: ColdStart[], key: keyof ColdStart) => side.map((s) => s[key])
  const both = (key: keyof ColdStart) => ({
    ours: `${ms(median(of(samples.ours, key)))} (p99 ${ms(p99(of(samples.ours, key)))})`,
    floor: `${ms(median(of(samples.floor, key)))} (p99 ${ms(p99(of(samples.floor, key)))})`,
    ratio: median(of(samples.ours, key)) / median(of(samples.floor, key))
  })
  const total = both('total')
  const first = both('first')
  const oursBytes = statSync(BUNDLE).size
  const floorBytes = statSync(sdkFloor.bundle).size
  return {
    title: '3. Cold start and bundle size',
    rows: [
      {
        figure: 'Cold start, spawn → first action answered, median',
        ours: total.ours,
        floor: total.floor,
        ratio: ratio(total.ratio),
        target: `≤ ${TIME_TARGET}`,
        verdict: verdict(total.ratio <= TIME_TARGET)
      },
      {
        figure: 'of which listening → first action answered, median',
        ours: first.ours,
        floor: first.floor,
        ratio: ratio(first.ratio),
        target: '—',
        verdict: 'info'
      },
      {
        figure: 'Bundle size (.botpress/dist/index.js)',
        ours: kib(oursBytes),
        floor: kib(floorBytes),
        ratio: `${oursBytes >= floorBytes ? '+' : ''}${kib(oursBytes - floorBytes)}`,
        target: `≤ +${kib(SIZE_TARGET)}`,
        verdict: verdict(oursBytes - floorBytes <= SIZE_TARGET)
      }
    ],
    notes: [
      `${options.rounds} cold starts per side after one discarded round each, alternating (which goes first flips every round); ` +
        'with this few samples p99 is the slowest start or close to it.',
      '`node -e <launcher>` (dev/integration-process.ts): the launcher pins `listen()` to 127.0.0.1, reports on a pipe of its ' +
        'own when the server listens, `require`s the bundle and calls its `start(port)`. The bench sends the first action the ' +
        'moment the report arrives; the time runs ' +
        "from `spawn()` to the answer read and includes the first write (a new connection, the proxy's 20 ms round trip). " +
        'Ours sends Send Metric; the sdk floor of section 1 writes the line ours writes for the same input.',
      "Bundle size: both built by `bp build` (the CLI's esbuild options); the floor's bundle holds the sdk, @botpress/client " +
        'and the one CommonJS copy of axios that ours also uses.'
    ]
  }
}
