/**
 * The hook snippets of docs/hooks/ run as Botpress Studio runs a hook's code: the body of an async
 * function, in a node:vm context holding only the globals Botpress documents for that hook
 * (`event`, `outgoingEvent`, `actions`, `console`). `actions['grafana-cloud'].<action>(input)`
 * calls the built bundle as Botpress Cloud calls an action (dev/botpress.ts: POST / with
 * action_triggered and the stored configuration), with the input exactly as the snippet wrote it
 * (JSON: no schema defaults, no template rendering), and resolves to the action's output or throws
 * its error. The samples land in a real VictoriaMetrics, the trail's lines at a recording server
 * standing in for Grafana Cloud Logs.
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createContext, runInContext } from 'node:vm'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { buildDashboard } from '../dashboards/build'
import { PANEL_TITLES, queriesFor } from '../dashboards/queries'
import { triggerAction } from '../dev/botpress'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'
import { startRecordingServer, type RecordingServer } from '../dev/recording-server'
import { startVictoriaMetrics, type ExportedSeries, type VictoriaMetrics } from '../dev/servers'
import definition from '../integration.definition'
import { expectedAlertMetrics, rulesYaml } from '../rules/build'
import { DEFAULT_RULES_CONFIG } from '../rules/config'
import { sendMetricSeries } from '../src/series-names'
import { instanceOf } from './helpers/instance'

const HOOKS = resolve(__dirname, '../docs/hooks')
const SNIPPETS = {
  afterIncoming: join(HOOKS, 'after-incoming-message.js'),
  beforeOutgoing: join(HOOKS, 'before-outgoing-message.js'),
  errorWorkflow: join(HOOKS, 'error-workflow.js')
} as const
const { metrics } = DEFAULT_RULES_CONFIG

let vm: VictoriaMetrics
let loki: RecordingServer
let integration: IntegrationProcess
let instance: string
/** The configuration as a new install's form stores it, with logs and "Also log every event" on. */
let configuration: Record<string, unknown>

beforeAll(async () => {
  vm = await startVictoriaMetrics()
  loki = await startRecordingServer()
  integration = await startIntegrationProcess()
  instance = await instanceOf(integration)
  configuration = {
    grafanaUrl: `${vm.url}/influx/write`,
    grafanaUserId: vm.username,
    apiKey: vm.password,
    includeConversationAndUserIds: false,
    logsUrl: loki.url,
    logsUserId: '654321',
    logEveryEvent: true
  }
})
afterAll(async () => {
  await integration?.stop()
  await loki?.close()
  await vm?.stop()
})
beforeEach(() => {
  loki.requests.length = 0
})

/** An incoming event with the properties Botpress documents (snippets/incoming-event.mdx). */
interface IncomingEvent {
  readonly id: string
  readonly botId: string
  readonly conversationId: string
  readonly userId: string
  readonly integration: string
  readonly createdOn: Date | string
  readonly direction: 'incoming'
  readonly type: string
  readonly preview: string
  readonly payload: Record<string, unknown>
}

const incoming = (botId: string, n: number, channel = 'webchat', createdOn: Date | string = new Date()) =>
  ({
    id: `evt-${botId}-${n}`,
    botId,
    conversationId: `conv-${botId}-${n}`,
    userId: `user-${botId}-${n}`,
    integration: channel,
    createdOn,
    direction: 'incoming',
    type: 'text',
    preview: `my card number is 4111 ${n}`,
    payload: { text: `my card number is 4111 ${n}` }
  }) satisfies IncomingEvent

interface ActionCall {
  readonly botId: string
  readonly action: string
  readonly input: unknown
}

interface HookRun {
  readonly calls: ActionCall[]
  /** What each action that succeeded answered. */
  readonly outputs: unknown[]
  readonly warnings: string[]
}

/**
 * Studio's `actions` global for a bot with this integration installed: one object per integration,
 * named as the integration is (integration.definition.ts), with one function per action.
 */
const studioActions = (botId: string, run: HookRun, stored: Record<string, unknown>) =>
  new Proxy(
    {},
    {
      get: (_, alias) =>
        alias !== definition.name
          ? undefined
          : new Proxy(
              {},
              {
                get:
                  (__, action: string) =>
                  async (input: unknown): Promise<unknown> => {
                    run.calls.push({ botId, action, input })
                    const answer = await triggerAction(integration.url, stored, action, input, botId)
                    if (answer.status !== 200) {
                      throw new Error((answer.body as { message?: string }).message ?? answer.text)
                    }
                    const { output } = answer.body as { output: unknown }
                    run.outputs.push(output)
                    return output
                  }
              }
            )
    }
  )

/** Runs a snippet as a hook of `botId` with the globals Studio documents for it. */
const runHook = async (
  code: string,
  globals: { event: IncomingEvent; outgoingEvent?: Record<string, unknown> },
  stored: Record<string, unknown> = configuration
): Promise<HookRun> => {
  const run: HookRun = { calls: [], outputs: [], warnings: [] }
  const context = createContext({
    ...globals,
    actions: studioActions(globals.event.botId, run, stored),
    console: { warn: (message: unknown) => run.warnings.push(String(message)) }
  })
  await runInContext(`(async () => {\n${code}\n})()`, context)
  return run
}

const snippet = (file: string) => readFileSync(file, 'utf8')

const samples = (series: ExportedSeries[]) =>
  series
    .map((s) => ({ metric: s.metric, values: [...s.values].map(Number).sort((a, b) => a - b) }))
    .sort((a, b) => (JSON.stringify(a.metric) < JSON.stringify(b.metric) ? -1 : 1))

/** The lines pushed to the logs stand-in: their stream, parsed line and metadata. */
const pushedLines = () =>
  loki.requests.flatMap((request) =>
    (
      JSON.parse(request.body.toString('utf8')) as {
        streams: Array<{ stream: Record<string, string>; values: Array<[string, string, Record<string, string>]> }>
      }
    ).streams.flatMap(({ stream, values }) =>
      values.map(([, line, metadata]) => ({ stream, line: JSON.parse(line) as { message: string }, metadata }))
    )
  )

describe('After Incoming Message hook', () => {
  test('records each message as one message_received event, the name the alerts read', async () => {
    const bot = 'bot-hooks-in'
    const events = [incoming(bot, 1), incoming(bot, 2), incoming(bot, 3, 'telegram')]
    const runs = []
    for (const event of events) runs.push(await runHook(snippet(SNIPPETS.afterIncoming), { event }))

    expect(runs.flatMap((r) => r.warnings)).toEqual([])
    expect(runs.flatMap((r) => r.calls)).toEqual(
      events.map((e) => ({
        botId: bot,
        action: 'sendMetric',
        input: {
          name: metrics.messages,
          channel: e.integration,
          botId: bot,
          conversationId: e.conversationId,
          userId: e.userId,
          version: ''
        }
      }))
    )
    const series = sendMetricSeries(metrics.messages)
    const stored = await vm.exportWhen(`${series}{botId="${bot}"}`, (s) => s.flatMap((x) => x.values).length >= 3)
    expect(samples(stored)).toEqual([
      { metric: { __name__: series, botId: bot, channel: 'telegram', instance }, values: [1] },
      { metric: { __name__: series, botId: bot, channel: 'webchat', instance }, values: [1, 1] }
    ])

    // The trail: one line per message, with the conversation and user IDs, never the text.
    const lines = pushedLines()
    expect(lines.map((l) => [l.metadata.event, l.metadata.conversationId, l.metadata.userId])).toEqual(
      events.map((e) => [metrics.messages, e.conversationId, e.userId])
    )
    expect(lines.map((l) => l.stream.botId)).toEqual([bot, bot, bot])
    for (const request of loki.requests) expect(request.body.toString('utf8')).not.toContain('4111')
  })

  test('writes the message text to the logs only when the builder turns LOG_MESSAGE_TEXT on', async () => {
    const code = snippet(SNIPPETS.afterIncoming)
    expect(code).toContain('const LOG_MESSAGE_TEXT = false\n')
    const event = incoming('bot-hooks-text', 1)
    const run = await runHook(code.replace('const LOG_MESSAGE_TEXT = false\n', 'const LOG_MESSAGE_TEXT = true\n'), {
      event
    })
    expect(run.warnings).toEqual([])
    expect(run.calls.map((c) => c.action)).toEqual(['sendMetric', 'sendLog'])
    const text = pushedLines().filter((l) => l.metadata.card === 'sendLog')
    expect(text.map((l) => [l.line.message, l.metadata.event, l.metadata.conversationId])).toEqual([
      [event.preview, metrics.messages, event.conversationId]
    ])
  })

  test('never stops the bot: a refused write ends the hook with a warning in the bot logs, without the key', async () => {
    const event = incoming('bot-hooks-refused', 1)
    const run = await runHook(
      snippet(SNIPPETS.afterIncoming),
      { event },
      { ...configuration, apiKey: 'glc_revoked_key_3f9a' }
    )
    expect(run.calls).toHaveLength(1)
    expect(run.warnings).toHaveLength(1)
    expect(run.warnings[0]).toMatch(/^Grafana Cloud: Send Metric failed: .*\(401\)/)
    expect(run.warnings[0]).not.toContain('glc_revoked_key_3f9a')
  })
})

describe('Before Outgoing Message hook', () => {
  test.each([
    ['Date objects, as Botpress documents createdOn', (ms: number) => new Date(ms)],
    ['ISO 8601 text', (ms: number) => new Date(ms).toISOString()]
  ])(
    'records each answer as one response_latency event, worth outgoingEvent.createdOn - event.createdOn (%s)',
    async (_, time) => {
      const bot = `bot-hooks-out-${typeof time(0) === 'string' ? 'text' : 'date'}`
      const asked = Date.now() - 60_000
      const answers = [1234, 2500]
      const runs = []
      for (const [n, latency] of answers.entries()) {
        const event = incoming(bot, n, 'webchat', time(asked))
        const outgoingEvent = { botId: bot, conversationId: event.conversationId, createdOn: time(asked + latency) }
        runs.push(await runHook(snippet(SNIPPETS.beforeOutgoing), { event, outgoingEvent }))
      }
      expect(runs.flatMap((r) => r.warnings)).toEqual([])
      expect(runs.flatMap((r) => r.calls).map((c) => c.input)).toEqual(
        answers.map((latency, n) => ({
          name: metrics.latency,
          value: latency,
          channel: 'webchat',
          botId: bot,
          conversationId: `conv-${bot}-${n}`,
          userId: `user-${bot}-${n}`,
          version: ''
        }))
      )
      const series = sendMetricSeries(metrics.latency)
      const stored = await vm.exportWhen(`${series}{botId="${bot}"}`, (s) => s.flatMap((x) => x.values).length >= 2)
      expect(samples(stored)).toEqual([
        { metric: { __name__: series, botId: bot, channel: 'webchat', instance }, values: answers }
      ])
      expect(pushedLines().map((l) => [l.metadata.event, l.metadata.value])).toEqual(
        answers.map((latency) => [metrics.latency, String(latency)])
      )
    }
  )

  test('records nothing for a message without a user message before it', async () => {
    const event = incoming('bot-hooks-proactive', 1, 'webchat', new Date(Date.now()))
    const run = await runHook(snippet(SNIPPETS.beforeOutgoing), {
      event,
      outgoingEvent: { createdOn: new Date(Date.now() - 5_000) }
    })
    expect(run).toEqual({ calls: [], outputs: [], warnings: [] })
  })

  test("puts the bot's version on the samples once the builder sets VERSION", async () => {
    const code = snippet(SNIPPETS.beforeOutgoing)
    expect(code).toContain("const VERSION = ''\n")
    const event = incoming('bot-hooks-version', 1, 'webchat', new Date(Date.now() - 1_000))
    const run = await runHook(code.replace("const VERSION = ''\n", "const VERSION = '1.4.2'\n"), {
      event,
      outgoingEvent: { createdOn: new Date(Date.now()) }
    })
    expect(run.warnings).toEqual([])
    expect(run.outputs).toEqual([
      expect.objectContaining({ labels: { botId: event.botId, channel: 'webchat', instance, version: '1.4.2' } })
    ])
  })
})

describe('Error Workflow Execute Code card', () => {
  test('records each error as one bot_error event', async () => {
    const bot = 'bot-hooks-error'
    const run = await runHook(snippet(SNIPPETS.errorWorkflow), { event: incoming(bot, 1, 'whatsapp') })
    expect(run.warnings).toEqual([])
    const series = sendMetricSeries(metrics.errors)
    const stored = await vm.exportWhen(`${series}{botId="${bot}"}`, (s) => s.length >= 1)
    expect(samples(stored)).toEqual([
      { metric: { __name__: series, botId: bot, channel: 'whatsapp', instance }, values: [1] }
    ])
  })
})

describe('the names the snippets write', () => {
  const written = Object.values(SNIPPETS).map((file) => /name: '(\w+)'/.exec(snippet(file))![1]!)

  test('are names of rules/config.ts that the rules and the Expected metrics panel read', () => {
    expect(written).toEqual([metrics.messages, metrics.latency, metrics.errors])
    const rules = rulesYaml()
    const [expected] = queriesFor(PANEL_TITLES.expectedMetrics)
    for (const name of written) {
      expect(rules).toContain(`${sendMetricSeries(name)}[`)
      expect(expected!.expr).toContain(`"metric", "${name}"`)
    }
    expect(buildDashboard().panels![0]).toMatchObject({ title: PANEL_TITLES.expectedMetrics })
  })

  test('cover every name BotpressExpectedMetricMissing asks for: a bot on hooks alone never trips it', () => {
    for (const name of expectedAlertMetrics()) expect(written).toContain(name)
  })

  test('call the integration by the name it is installed under', () => {
    for (const file of Object.values(SNIPPETS)) {
      expect(snippet(file)).toContain(`const grafana = actions['${definition.name}']\n`)
    }
  })
})

describe('docs/hooks.md', () => {
  test('shows each snippet exactly as the file the tests run', () => {
    const page = readFileSync(resolve(__dirname, '../docs/hooks.md'), 'utf8')
    const blocks = [...page.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
    for (const file of Object.values(SNIPPETS)) expect(blocks).toContain(snippet(file))
  })
})
