/**
 * 2. Cold start: a fresh `node` process that loads a built bundle, serves it with the sdk's
 * start(port) and answers its first action; ours (Send Metric to a local VictoriaMetrics)
 * against an empty integration generated with the same CLI and sdk whose one action returns
 * { ok: true } and, for information, against the sdk floor of bench/overhead.ts, whose first
 * action writes the same line with plain axios. Interleaved, in rotating order. Also the bundle
 * size difference, attributed to packages with the CLI's own esbuild build.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { buildMetricEvent } from '../src/metric'
import { headersFor } from '../test/helpers/botpress'
import { BUNDLE } from '../test/helpers/integration-process'
import { startVictoriaMetrics } from '../test/helpers/servers'
import { BUNDLE_LAUNCHER, spawnNode } from './lib/children'
import { analyseBundle, sizeDifference } from './lib/bundle'
import { keepAliveAgent, post } from './lib/http'
import { verdict, type Section } from './lib/report'
import { kib, median, ms, now, p99, ratio } from './lib/stats'
import { metricInputs } from './overhead'

const run = promisify(execFile)
const REPO = resolve(__dirname, '..')
const BP = join(REPO, 'node_modules', '.bin', 'bp')
const TIME_TARGET = 1.1
const SIZE_TARGET = 60 * 1024

const EMPTY_DEFINITION = `import { IntegrationDefinition, z } from '@botpress/sdk'
import { integrationName } from './package.json'

export default new IntegrationDefinition({
  name: integrationName,
  version: '0.0.1',
  readme: 'hub.md',
  icon: 'icon.svg',
  actions: {
    ping: {
      input: { schema: z.object({}) },
      output: { schema: z.object({ ok: z.boolean() }) },
    },
  },
})
`

const EMPTY_IMPLEMENTATION = `import * as bp from '.botpress'

export default new bp.Integration({
  register: async () => {},
  unregister: async () => {},
  actions: {
    ping: async () => ({ ok: true }),
  },
  channels: {},
  handler: async () => {},
})
`

/**
 * The sdk floor for bench/overhead.ts: the same generated project with one action that POSTs its
 * input's bytes with plain axios (the options of src/client.ts, without axios-retry) and returns {}.
 */
const FORWARD_DEFINITION = `import { IntegrationDefinition, z } from '@botpress/sdk'
import { integrationName } from './package.json'

export default new IntegrationDefinition({
  name: integrationName,
  version: '0.0.1',
  readme: 'hub.md',
  icon: 'icon.svg',
  configuration: { schema: z.object({ url: z.string(), user: z.string(), key: z.string() }) },
  actions: {
    forward: {
      input: { schema: z.object({ data: z.string() }) },
      output: { schema: z.object({}) },
    },
  },
})
`

const FORWARD_IMPLEMENTATION = `import axios from 'axios'
import * as bp from '.botpress'

const http = axios.create({ transformRequest: [(data: string) => data], responseType: 'text', maxRedirects: 0 })

export default new bp.Integration({
  register: async () => {},
  unregister: async () => {},
  actions: {
    forward: async ({ ctx, input }) => {
      const { url, user, key } = ctx.configuration as { url: string; user: string; key: string }
      await http.post(url, (input as { data: string }).data, {
        params: { precision: 'ms' },
        auth: { username: user, password: key },
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
        timeout: 10000,
      })
      return {}
    },
  },
  channels: {},
  handler: async () => {},
})
`

export interface EmptyIntegration {
  readonly dir: string
  readonly bundle: string
  remove(): Promise<void>
}

/**
 * `bp init` (offline) in a temp folder, this repo's node_modules, `bp build`: with one trivial
 * action ('empty'), or with the forwarding action of the sdk floor ('forward').
 */
export const prepareEmptyIntegration = async (kind: 'empty' | 'forward' = 'empty'): Promise<EmptyIntegration> => {
  const root = await mkdtemp(join(tmpdir(), `bench-${kind}-`))
  const remove = () => rm(root, { recursive: true, force: true })
  try {
    const home = join(root, 'bp-home')
    const env = { ...process.env, BP_TELEMETRY: 'false' }
    await run(BP, ['init', '--type', 'integration', '--name', 'empty', '-y', '--botpressHome', home], { cwd: root, env, timeout: 60_000 })
    const dir = join(root, 'empty')
    await writeFile(join(dir, 'integration.definition.ts'), kind === 'empty' ? EMPTY_DEFINITION : FORWARD_DEFINITION)
    await writeFile(join(dir, 'src', 'index.ts'), kind === 'empty' ? EMPTY_IMPLEMENTATION : FORWARD_IMPLEMENTATION)
    await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir')
    await run(BP, ['build', '--botpressHome', home], { cwd: dir, env, timeout: 120_000 })
    return { dir, bundle: join(dir, '.botpress', 'dist', 'index.js'), remove }
  } catch (error) {
    await remove()
    const e = error as { message: string; stdout?: string; stderr?: string }
    throw new Error(`could not generate the ${kind} integration: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`)
  }
}

interface ColdSample {
  /** spawn → first action's answer read. */
  readonly total: number
  /** spawn → the server listens (node start + loading the bundle). */
  readonly load: number
  /** listening → first action's answer read. */
  readonly first: number
}

const coldStart = async (bundle: string, headers: Record<string, string>, body: string, expect: string): Promise<ColdSample> => {
  const child = await spawnNode(BUNDLE_LAUNCHER, { env: { BUNDLE: bundle } })
  try {
    const listeningAt = await child.listening
    const agent = keepAliveAgent()
    const answer = await post(agent, `${child.url}/`, headers, body)
    const end = now()
    agent.destroy()
    if (answer.status !== 200 || !answer.text.includes(expect)) {
      throw new Error(`first action answered ${answer.status}: ${answer.text.slice(0, 300)}`)
    }
    return { total: end - child.spawnedAt, load: listeningAt - child.spawnedAt, first: end - listeningAt }
  } finally {
    await child.stop()
  }
}

export interface ColdStartOptions {
  readonly rounds: number
}

export const runColdStart = async (options: ColdStartOptions): Promise<Section> => {
  const empty = await prepareEmptyIntegration()
  const cleanup: Array<() => Promise<void>> = [() => empty.remove()]
  try {
    const forward = await prepareEmptyIntegration('forward')
    cleanup.push(() => forward.remove())
    const vm = await startVictoriaMetrics({ auth: false })
    cleanup.push(() => vm.stop())
    const writeUrl = `${vm.url}/influx/write`
    const configuration = { grafanaUrl: writeUrl, grafanaUserId: '1234567', apiKey: 'glc_bench_not_a_real_key' }
    const input = metricInputs(1)[0]!
    const oursCall = () =>
      coldStart(
        BUNDLE,
        headersFor('action_triggered', configuration, 'bot-bench'),
        JSON.stringify({ type: 'sendMetric', input }),
        'flow_completed_metric'
      )
    const emptyCall = () =>
      coldStart(empty.bundle, headersFor('action_triggered', {}, 'bot-bench'), JSON.stringify({ type: 'ping', input: {} }), '"ok":true')
    const forwardHeaders = headersFor('action_triggered', { url: writeUrl, user: configuration.grafanaUserId, key: configuration.apiKey }, 'bot-bench')
    const forwardCall = () => {
      const data = buildMetricEvent(input, { botId: 'bot-bench', includeConversationAndUserIds: true }, Date.now()).line
      return coldStart(forward.bundle, forwardHeaders, JSON.stringify({ type: 'forward', input: { data } }), 'output')
    }

    // One discarded round warms the page cache for node, the bundles and node_modules.
    const sides = [oursCall, emptyCall, forwardCall]
    const samples: ColdSample[][] = [[], [], []]
    for (const call of sides) await call()
    // Every order of the three in turn: each side goes first, second and last equally often.
    const orders = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0], [1, 0, 2], [0, 2, 1]]
    for (let round = 0; round < options.rounds; round++) {
      for (const side of orders[round % orders.length]!) {
        samples[side]!.push(await sides[side]!())
      }
    }
    const [ours, base, sdkFloor] = samples as [ColdSample[], ColdSample[], ColdSample[]]

    const pick = (samples: ColdSample[], key: keyof ColdSample) => samples.map((s) => s[key])
    const [oursBundle, emptyBundle] = await Promise.all([analyseBundle(REPO), analyseBundle(empty.dir)])
    const sizeDiff = oursBundle.actualBytes - emptyBundle.actualBytes
    const byPackage = sizeDifference(oursBundle, emptyBundle)
      .filter(([, bytes]) => Math.abs(bytes) >= 100)
      .map(([origin, bytes]) => `${origin} ${bytes > 0 ? '+' : ''}${kib(bytes)}`)
      .join(', ')
    const reproduced = oursBundle.bytes === oursBundle.actualBytes && emptyBundle.bytes === emptyBundle.actualBytes

    const totalMedian = median(pick(ours, 'total')) / median(pick(base, 'total'))
    const totalP99 = p99(pick(ours, 'total')) / p99(pick(base, 'total'))
    const part = (key: keyof ColdSample, label: string, floor: ColdSample[] = base) => ({
      figure: `Cold start, ${label}`,
      ours: `${ms(median(pick(ours, key)))} · p99 ${ms(p99(pick(ours, key)))}`,
      floor: `${ms(median(pick(floor, key)))} · p99 ${ms(p99(pick(floor, key)))}`,
      ratio: ratio(median(pick(ours, key)) / median(pick(floor, key))),
      target: '—',
      verdict: 'info' as const,
    })
    return {
      title: '2. Cold start and bundle size',
      rows: [
        {
          figure: 'Cold start, spawn → first action answered, median',
          ours: ms(median(pick(ours, 'total'))),
          floor: ms(median(pick(base, 'total'))),
          ratio: ratio(totalMedian),
          target: `≤ ${TIME_TARGET}`,
          verdict: verdict(totalMedian <= TIME_TARGET),
        },
        {
          figure: 'Cold start, spawn → first action answered, p99',
          ours: ms(p99(pick(ours, 'total'))),
          floor: ms(p99(pick(base, 'total'))),
          ratio: ratio(totalP99),
          target: `≤ ${TIME_TARGET}`,
          verdict: verdict(totalP99 <= TIME_TARGET),
        },
        part('load', 'spawn → listening (load bundle)'),
        part('first', 'listening → first answer'),
        part('total', 'vs the sdk floor (its first action writes the same line), spawn → first answer', sdkFloor),
        part('first', 'vs the sdk floor, listening → first answer', sdkFloor),
        {
          figure: 'Bundle size (.botpress/dist/index.js)',
          ours: kib(oursBundle.actualBytes),
          floor: kib(emptyBundle.actualBytes),
          ratio: `+${kib(sizeDiff)}`,
          target: `≤ +${kib(SIZE_TARGET)}`,
          verdict: verdict(sizeDiff <= SIZE_TARGET),
        },
      ],
      notes: [
        `${options.rounds} cold starts per side after one discarded round, interleaved: each round starts the three sides ` +
          'one after the other, in each of the six orders in turn. With this few samples p99 is the slowest start or close to it.',
        '**Ours**: `node -e <launcher>` where the launcher pins `listen()` to 127.0.0.1, prints a marker when the server ' +
          "listens, `require`s `.botpress/dist/index.js` and calls its `start(port)`. The bench sends Send Metric (Botpress " +
          'headers, JSON body) the moment the marker arrives; the time is from `spawn()` to the answer read. The first action ' +
          'includes its real write to a local VictoriaMetrics (first TCP connection included).',
        '**Empty integration**: generated on every run in a temp folder with `bp init --type integration --name empty -y` ' +
          "(CLI 0.8.59, offline), given one action `ping` that returns `{ ok: true }` (no configuration), this repo's " +
          '`node_modules` symlinked in (same sdk 0.10.10, same @botpress/client), built with the same `bp build`; same launcher, ' +
          'same request shape.',
        '**sdk floor** (info): the minimal integration of section 1, generated the same way, whose action POSTs its input ' +
          "(Send Metric's line, built before the spawn) to the same VictoriaMetrics with plain axios. The empty integration " +
          'does no I/O; this one pays the first write as ours does, so the ratio to it is what our code adds to a cold start. ' +
          "Its bundle carries a second copy of axios (its `import axios from 'axios'` takes the ESM build; @botpress/client " +
          'brings the CommonJS one), which slows its loading: the listening → first answer row compares the first action alone.',
        `**Bundle bytes by package**, ours minus empty (the CLI's esbuild build reproduced with a metafile${reproduced ? ', byte-for-byte the same size as the real bundles' : ' — NOTE: the reproduction differs in size from the real bundle'}): ${byPackage}.`,
      ],
    }
  } finally {
    for (const step of cleanup.reverse()) await step()
  }
}
