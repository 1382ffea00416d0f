/**
 * Every PromQL query we give bot builders — the dashboard's panels and the ```promql examples of
 * hub.md and docs/*.md —
 * run against a real VictoriaMetrics after the cards sent realistic events through the built
 * bundle. The events go to two instances of the integration in turn, so each metric is spread
 * over one series per instance as in Botpress Cloud: a count that forgets to sum the
 * `instance` label away comes back split, and the exact figures below catch it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ALL, EXPECTED_METRICS, PANEL_TITLES, resolvedQueries, type SubstituteVars } from '../dashboards/queries'
import { triggerAction } from '../dev/botpress'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'
import { startVictoriaMetrics, type VictoriaMetrics } from '../dev/servers'
import { DEFAULT_RULES_CONFIG } from '../rules/config'
import { codeBlocks } from './helpers/markdown'

interface Sample {
  readonly metric: Record<string, string>
  readonly value?: [number, string]
  readonly values?: Array<[number, string]>
}

const BOT = 'bot-demo'
// [metric name, channel, version, conversation, value] — one Send Metric call each.
const EVENTS: ReadonlyArray<readonly [string, string, string, string, number?]> = [
  ...Array.from(
    { length: 10 },
    (_, i) => ['flow_started', i % 2 ? 'whatsapp' : 'webchat', i < 4 ? '1.4.1' : '1.4.2', `c${i}`] as const
  ),
  ...Array.from(
    { length: 6 },
    (_, i) => ['flow_completed', i % 2 ? 'whatsapp' : 'webchat', i < 2 ? '1.4.1' : '1.4.2', `c${i}`] as const
  ),
  ...Array.from(
    { length: 8 },
    (_, i) => ['response_latency', i % 2 ? 'whatsapp' : 'webchat', '1.4.2', `c${i}`, 100 * (i + 1)] as const
  ),
  ...Array.from(
    { length: 12 },
    (_, i) => ['message_received', i % 2 ? 'whatsapp' : 'webchat', '1.4.2', `c${i}`] as const
  ),
  ...Array.from({ length: 3 }, (_, i) => ['bot_error', i % 2 ? 'whatsapp' : 'webchat', '1.4.2', `c${i}`] as const)
]

// [model, channel, version, conversation, input tokens, output tokens, cost in USD, duration in ms, stop reason] —
// one Send LLM Usage call each, with a Botpress LLM output as its response.
const LLM_CALLS: ReadonlyArray<readonly [string, string, string, string, number, number, number, number, string]> = [
  ['gpt-4o-mini', 'webchat', '1.4.2', 'c0', 1000, 100, 0.001, 800, 'stop'],
  ['gpt-4o-mini', 'whatsapp', '1.4.2', 'c1', 2000, 200, 0.002, 1200, 'max_tokens'],
  ['gpt-4o', 'webchat', '1.4.1', 'c0', 500, 50, 0.01, 2000, 'stop'],
  ['gpt-4o', 'webchat', '1.4.2', 'c2', 1500, 150, 0.03, 3000, 'stop'],
  ['gpt-4o-mini', 'webchat', '1.4.1', 'c3', 3000, 300, 0.004, 600, 'max_tokens'],
  ['gpt-4o', 'whatsapp', '1.4.2', 'c1', 1000, 100, 0.02, 2500, 'stop']
]
/** The LLM call durations per model, in seconds: every quantile of a model lies among them. */
const DURATIONS = { 'gpt-4o-mini': [0.6, 1.2], 'gpt-4o': [2, 3] } as const

let vm: VictoriaMetrics
let integrations: IntegrationProcess[] = []
let evaluationTime: number

const query = async (path: string, params: Record<string, string>): Promise<Sample[]> => {
  const response = await fetch(`${vm.url}${path}?${new URLSearchParams(params)}`, {
    headers: { authorization: vm.authorization! },
    signal: AbortSignal.timeout(10_000)
  })
  const body = (await response.json()) as { status: string; error?: string; data: { result: Sample[] } }
  expect(body.error, `query ${params.query}`).toBeUndefined()
  expect(body.status).toBe('success')
  return body.data.result
}

const instant = (promql: string) => query('/api/v1/query', { query: promql, time: String(evaluationTime / 1000) })

const valuesOf = (samples: Sample[]): number[] =>
  samples.flatMap((sample) =>
    sample.value ? [Number(sample.value[1])] : (sample.values ?? []).map(([, v]) => Number(v))
  )

beforeAll(async () => {
  vm = await startVictoriaMetrics()
  integrations = await Promise.all([startIntegrationProcess(), startIntegrationProcess()])
  const configuration = {
    grafanaUrl: `${vm.url}/influx/write`,
    grafanaUserId: vm.username,
    apiKey: vm.password,
    includeConversationAndUserIds: true
  }
  for (const [index, [name, channel, version, conversationId, value]] of EVENTS.entries()) {
    const answer = await triggerAction(integrations[index % integrations.length]!.url, configuration, 'sendMetric', {
      name,
      channel,
      version,
      conversationId,
      userId: `u-${conversationId}`,
      botId: BOT,
      ...(value === undefined ? {} : { value })
    })
    expect(answer.status, answer.text).toBe(200)
  }
  for (const [
    index,
    [model, channel, version, conversationId, inputTokens, outputTokens, cost, durationMs, stopReason]
  ] of LLM_CALLS.entries()) {
    const response = {
      id: `chatcmpl-${index}`,
      provider: 'openai',
      model,
      choices: [{ role: 'assistant', type: 'text', content: 'an answer', index: 0, stopReason }],
      // Halves add up to the cost exactly.
      usage: { inputTokens, inputCost: cost / 2, outputTokens, outputCost: cost / 2 },
      botpress: { cost }
    }
    const answer = await triggerAction(integrations[index % integrations.length]!.url, configuration, 'sendLlmUsage', {
      response: JSON.stringify(response),
      durationMs,
      channel,
      version,
      conversationId,
      userId: `u-${conversationId}`,
      botId: BOT
    })
    expect(answer.status, answer.text).toBe(200)
  }
  await vm.flush()
  // VictoriaMetrics evaluates at whole seconds and returns nothing for a time in the future:
  // wait until the last sample is a full second old, then evaluate at that second.
  await new Promise((r) => setTimeout(r, 1_100))
  evaluationTime = Math.floor(Date.now() / 1000) * 1000
})

afterAll(async () => {
  await Promise.all(integrations.map((integration) => integration.stop()))
  await vm?.stop()
})

/** The dashboard's variables with every bot, channel and version selected. */
const EVERYTHING: Omit<SubstituteVars, 'metric'> = {
  bot: ALL,
  channel: ALL,
  version: ALL,
  funnel_from: 'flow_started_metric',
  funnel_to: 'flow_completed_metric',
  interval: '5m',
  range: '1h'
}

describe('dashboard panel queries return data', () => {
  const variants: Array<[string, Omit<SubstituteVars, 'metric'>]> = [
    ['everything selected', EVERYTHING],
    [
      'one bot, channel and version',
      {
        bot: BOT,
        channel: ['webchat'],
        version: ['1.4.2'],
        funnel_from: 'flow_started_metric',
        funnel_to: 'flow_completed_metric',
        interval: 60,
        range: 3600
      }
    ]
  ]
  for (const [variant, vars] of variants) {
    for (const metric of ['flow_completed_metric', 'response_latency_metric']) {
      test.each(resolvedQueries({ ...vars, metric }).map((q) => [q.panel, q.refId, q] as const))(
        `${variant}, ${metric}: %s (%s)`,
        async (_, __, q) => {
          const samples =
            q.kind === 'instant'
              ? await instant(q.promql)
              : await query('/api/v1/query_range', {
                  query: q.promql,
                  start: String(evaluationTime / 1000 - 600),
                  end: String(evaluationTime / 1000),
                  step: '60'
                })
          expect(samples.length, q.promql).toBeGreaterThan(0)
          expect(valuesOf(samples).every(Number.isFinite), q.promql).toBe(true)
          if (q.seriesLabel) {
            for (const sample of samples) {
              expect(sample.metric[q.seriesLabel], q.promql).toBeTruthy()
            }
          }
        }
      )
    }
  }

  test('the funnel counts what the cards sent', async () => {
    const vars = { ...EVERYTHING, metric: 'flow_completed_metric' }
    const byPanel = new Map(resolvedQueries(vars).map((q) => [q.panel, q.promql]))
    const single = async (panelStart: string) => {
      const promql = [...byPanel].find(([panel]) => panel.startsWith(panelStart))![1]
      return valuesOf(await instant(promql))[0]
    }
    expect(await single('Funnel from')).toBe(10)
    expect(await single('Funnel to')).toBe(6)
    expect(await single('Conversion')).toBeCloseTo(60)
    expect(await single('Drop-off')).toBeCloseTo(40)
  })

  test('the totals and the mean are exact across instances', async () => {
    const vars = EVERYTHING
    const promqlOf = (metric: string, panel: string, refId = 'A') =>
      resolvedQueries({ ...vars, metric }).find((q) => q.panel.startsWith(panel) && q.refId === refId)!.promql
    const byVersion = await instant(promqlOf('flow_completed_metric', 'Events by bot version'))
    expect(Object.fromEntries(byVersion.map((sample) => [sample.metric.version, Number(sample.value![1])]))).toEqual({
      '1.4.1': 2,
      '1.4.2': 4
    })
    expect(valuesOf(await instant(promqlOf('message_received_metric', 'Events: ')))).toEqual([12])
    expect(valuesOf(await instant(promqlOf('response_latency_metric', 'Value p50', 'C')))).toEqual([450])
  })

  test('the Expected metrics panel counts each name of rules/config.ts, 0 for a name without events', async () => {
    const promqlOf = (vars: Omit<SubstituteVars, 'metric'>) =>
      resolvedQueries({ ...vars, metric: 'flow_completed_metric' }).find(
        (q) => q.panel === PANEL_TITLES.expectedMetrics
      )!.promql
    const rows = async (vars: Omit<SubstituteVars, 'metric'>) =>
      Object.fromEntries(
        (await instant(promqlOf(vars))).map((sample) => [sample.metric.metric, Number(sample.value![1])])
      )
    const { metrics } = DEFAULT_RULES_CONFIG
    expect(EXPECTED_METRICS).toEqual(Object.values(metrics))
    expect(await rows(EVERYTHING)).toEqual({
      [metrics.messages]: 12,
      [metrics.errors]: 3,
      [metrics.latency]: 8,
      [metrics.flowStarted]: 10,
      [metrics.flowCompleted]: 6
    })
    // Version 1.4.1 only ran flows: every other name is there, at 0.
    expect(await rows({ ...EVERYTHING, version: ['1.4.1'] })).toEqual({
      [metrics.messages]: 0,
      [metrics.errors]: 0,
      [metrics.latency]: 0,
      [metrics.flowStarted]: 4,
      [metrics.flowCompleted]: 2
    })
  })

  test("the LLM usage row's figures are exact across instances", async () => {
    const vars = { ...EVERYTHING, interval: '1h', metric: 'flow_completed_metric' }
    const promqlOf = (panel: string, refId = 'A') =>
      resolvedQueries(vars).find((q) => q.panel.startsWith(panel) && q.refId === refId)!.promql
    const by = async (label: string, promql: string) =>
      Object.fromEntries((await instant(promql)).map((sample) => [sample.metric[label], Number(sample.value![1])]))
    // The range panels' queries with a one-hour $__interval, evaluated once: the whole load.
    expect(await by('gen_ai_request_model', promqlOf('LLM tokens over time', 'A'))).toEqual({
      'gpt-4o-mini': 6000,
      'gpt-4o': 3000
    })
    expect(await by('gen_ai_request_model', promqlOf('LLM tokens over time', 'B'))).toEqual({
      'gpt-4o-mini': 600,
      'gpt-4o': 300
    })
    const costs = await by('gen_ai_request_model', promqlOf('LLM cost over time'))
    expect(Object.keys(costs).sort()).toEqual(['gpt-4o', 'gpt-4o-mini'])
    expect(costs['gpt-4o-mini']).toBeCloseTo(0.007, 12)
    expect(costs['gpt-4o']).toBeCloseTo(0.06, 12)
    const byChannel = await instant(promqlOf('LLM cost by channel'))
    expect(byChannel.map((sample) => sample.metric.channel)).toEqual(['webchat', 'whatsapp'])
    expect(valuesOf(byChannel)[0]).toBeCloseTo(0.045, 12)
    expect(valuesOf(byChannel)[1]).toBeCloseTo(0.022, 12)
    const byVersion = await instant(promqlOf('LLM cost by bot version'))
    expect(byVersion.map((sample) => sample.metric.version)).toEqual(['1.4.2', '1.4.1'])
    expect(valuesOf(byVersion)[0]).toBeCloseTo(0.053, 12)
    expect(valuesOf(byVersion)[1]).toBeCloseTo(0.014, 12)
    const p95 = await by('gen_ai_request_model', promqlOf('LLM latency p95'))
    expect(Object.keys(p95).sort()).toEqual(['gpt-4o', 'gpt-4o-mini'])
    for (const [model, [low, high]] of Object.entries(DURATIONS)) {
      expect(p95[model]).toBeGreaterThanOrEqual(low)
      expect(p95[model]).toBeLessThanOrEqual(high)
    }
  })
})

describe('the PromQL examples of hub.md and docs/ return data', () => {
  const examples = codeBlocks()
    .filter((block) => block.info === 'promql')
    .map((block) => block.body)

  test('there are examples to check', () => {
    expect(examples.length).toBeGreaterThanOrEqual(6)
  })

  /** What each example returns for the events above, by the value of its grouping label ('' when it has none). */
  const EXACT: ReadonlyArray<readonly [string, Record<string, number>]> = [
    ['sum by (channel) (count_over_time(flow_completed_metric[$__interval]))', { webchat: 3, whatsapp: 3 }],
    ['sum by (version) (count_over_time(flow_completed_metric[1d]))', { '1.4.1': 2, '1.4.2': 4 }],
    [
      'sum by (version) (count_over_time(flow_completed_metric[1d]))\n/\n  sum by (version) (count_over_time(flow_started_metric[1d]))',
      { '1.4.1': 0.5, '1.4.2': 4 / 6 }
    ],
    [
      'sum(sum_over_time(response_latency_metric[5m])) / sum(count_over_time(response_latency_metric[5m]))',
      { '': 450 }
    ],
    [
      '1 - sum(count_over_time(flow_completed_metric[$__range])) / sum(count_over_time(flow_started_metric[$__range]))',
      { '': 0.4 }
    ],
    [
      'sum by (channel) (count_over_time(bot_error_metric[1h]))\n/\n  sum by (channel) (count_over_time(message_received_metric[1h]))',
      { webchat: 2 / 6, whatsapp: 1 / 6 }
    ],
    [
      'sum by (gen_ai_request_model, gen_ai_token_type) (sum_over_time(gen_ai_client_token_usage[1d]))',
      { 'gpt-4o-mini input': 6000, 'gpt-4o-mini output': 600, 'gpt-4o input': 3000, 'gpt-4o output': 300 }
    ],
    [
      'sum by (gen_ai_request_model) (sum_over_time(gen_ai_client_cost_usd[1d]))',
      { 'gpt-4o-mini': 0.007, 'gpt-4o': 0.06 }
    ],
    ['sum by (channel) (sum_over_time(gen_ai_client_cost_usd[1d]))', { webchat: 0.045, whatsapp: 0.022 }],
    ['sum by (version) (sum_over_time(gen_ai_client_cost_usd[1d]))', { '1.4.1': 0.014, '1.4.2': 0.053 }],
    // Four conversations (c0 to c3) share 0.067 USD.
    [
      'sum(sum_over_time(gen_ai_client_cost_usd[1d])) / count(count by (conversationId) (count_over_time(gen_ai_client_cost_usd[1d])))',
      { '': 0.067 / 4 }
    ],
    [
      'sum(count_over_time(gen_ai_client_operations{gen_ai_response_finish_reason="max_tokens"}[1d])) / sum(count_over_time(gen_ai_client_operations[1d]))',
      { '': 2 / 6 }
    ]
  ]
  /** Quantiles across series are approximate by nature: the result must lie among the values sent. */
  const QUANTILES = examples.filter((example) => example.startsWith('quantile'))

  test('every example has an exact figure or is a quantile', () => {
    const known = new Set([...EXACT.map(([example]) => example.replace(/\s+/gu, ' ')), ...QUANTILES])
    expect(examples.filter((example) => !known.has(example.replace(/\s+/gu, ' ')) && !known.has(example))).toEqual([])
    expect(QUANTILES.length).toBeGreaterThanOrEqual(4)
  })

  /** The values of a result's grouping labels, in label name order ('' without any). */
  const groupOf = (sample: Sample): string =>
    Object.keys(sample.metric)
      .sort()
      .map((label) => sample.metric[label])
      .join(' ')

  const run = (example: string) => instant(example.replaceAll('$__interval', '5m').replaceAll('$__range', '1h'))

  test.each(EXACT)('%s', async (example, expected) => {
    const found = examples.find((e) => e.replace(/\s+/gu, ' ') === example.replace(/\s+/gu, ' '))
    expect(found, 'the example is in hub.md or docs/').toBeDefined()
    const samples = await run(found!)
    const byGroup = Object.fromEntries(samples.map((sample) => [groupOf(sample), Number(sample.value![1])]))
    expect(Object.keys(byGroup).sort()).toEqual(Object.keys(expected).sort())
    for (const [group, value] of Object.entries(expected)) {
      expect(byGroup[group], `${group}`).toBeCloseTo(value, 10)
    }
  })

  /** The values sent to the series an example reads, by the example's grouping ('' for none). */
  const sentValues = (example: string): Record<string, readonly [number, number]> =>
    example.includes('gen_ai_client_operation_duration_seconds') ? DURATIONS : { '': [100, 800] }

  test.each(QUANTILES)('%s lies among the values sent', async (example) => {
    const samples = await run(example)
    const expected = sentValues(example)
    expect(samples.map(groupOf).sort()).toEqual(Object.keys(expected).sort())
    for (const sample of samples) {
      const [low, high] = expected[groupOf(sample)]!
      expect(Number(sample.value![1])).toBeGreaterThanOrEqual(low)
      expect(Number(sample.value![1])).toBeLessThanOrEqual(high)
    }
  })
})
