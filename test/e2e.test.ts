/**
 * End to end: the BUILT bundle (`.botpress/dist/index.js`, its
 * `start(port)`, in its own process) called exactly as Botpress Cloud calls it, writing to a real
 * VictoriaMetrics 1.79 with Basic auth and dedup, read back through `/api/v1/export`.
 *
 * The integration's user ID is the Basic-auth username (digits, like a Grafana Cloud user ID).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { triggerAction, callIntegration, type IntegrationAnswer } from '../dev/botpress'
import { CONTENT_MARKER, generateContentOutput } from '../dev/generate-content-output'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'
import { startVictoriaMetrics, type ExportedSeries, type VictoriaMetrics } from '../dev/servers'
import { instanceOf } from './helpers/instance'

const USER_ID = '7406113'
const HEADER_BOT_ID = 'bot-e2e-header'

let vm: VictoriaMetrics
let integration: IntegrationProcess
/** The name the integration process labels its samples with. */
let instance: string
let configuration: {
  grafanaUrl: string
  grafanaUserId: string
  apiKey: string
  includeConversationAndUserIds?: boolean
}
/** Every answer the integration gave in this file, checked for the API key at the end. */
const answers: IntegrationAnswer[] = []
/** Every series this file expects VictoriaMetrics to hold at the end, and nothing else. */
const expectedSeries: ExportedSeries[] = []

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const call = async (answer: Promise<IntegrationAnswer>): Promise<IntegrationAnswer> => {
  const result = await answer
  answers.push(result)
  return result
}

const exportWhen = (match: string, ready: (series: ExportedSeries[]) => boolean) => vm.exportWhen(match, ready)

const canonical = (series: ExportedSeries[]): ExportedSeries[] =>
  series
    .map((s) => ({
      metric: Object.fromEntries(Object.entries(s.metric).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      values: s.values,
      timestamps: s.timestamps
    }))
    .sort((a, b) => (JSON.stringify(a.metric) < JSON.stringify(b.metric) ? -1 : 1))

const outputOf = (answer: IntegrationAnswer): Record<string, unknown> => {
  expect(answer.status, answer.text).toBe(200)
  return (answer.body as { output: Record<string, unknown> }).output
}

/** A direct write (not through the integration), used as a barrier: once it is visible, earlier writes are too. */
const writeSentinel = async (name: string, timestamp: number): Promise<void> => {
  const response = await fetch(`${vm.url}/influx/write?precision=ms`, {
    method: 'POST',
    headers: { authorization: vm.authorization! },
    body: `${name},src=e2e f=1 ${timestamp}`
  })
  await response.text()
  expect(response.status).toBe(204)
}

beforeAll(async () => {
  vm = await startVictoriaMetrics({ username: USER_ID })
  configuration = { grafanaUrl: `${vm.url}/influx/write`, grafanaUserId: USER_ID, apiKey: vm.password }
  integration = await startIntegrationProcess()
  instance = await instanceOf(integration)
})

afterAll(async () => {
  await integration?.stop()
  await vm?.stop()
})

describe('register against VictoriaMetrics with Basic auth', () => {
  it('the right password: 200, and nothing is stored', async () => {
    const answer = await call(callIntegration(integration.url, 'register', configuration, { botId: HEADER_BOT_ID }))
    expect(answer.status, answer.text).toBe(200)

    // Barrier: a sample written after register; once it shows, register's write would show too.
    const at = Date.now()
    await writeSentinel('e2e_register_barrier', at)
    const all = await exportWhen('{__name__!=""}', (s) => s.some((x) => x.metric.__name__ === 'e2e_register_barrier_f'))
    expect(all).toEqual([{ metric: { __name__: 'e2e_register_barrier_f', src: 'e2e' }, values: [1], timestamps: [at] }])
    expectedSeries.push(...all)
  })

  it('a wrong password or a wrong user ID: 400 with the documented message', async () => {
    for (const wrong of [
      { ...configuration, apiKey: `${vm.password}x` },
      { ...configuration, grafanaUserId: '1' }
    ]) {
      const answer = await call(callIntegration(integration.url, 'register', wrong, { botId: HEADER_BOT_ID }))
      expect(answer.status, answer.text).toBe(400)
      const message = (answer.body as { message: string }).message
      expect(message).toMatch(/^Could not install the Grafana Cloud integration: /u)
      expect(message).toContain('(401)')
      expect(message).toContain('User ID')
      expect(message).toContain('API key')
      expect(message).toContain('metrics:write')
    }
  })
})

describe('Send Metric, end to end', () => {
  it('every field, a value, number and text versions, extra labels, botId falling back to x-bot-id', async () => {
    const full = outputOf(
      await call(
        triggerAction(
          integration.url,
          configuration,
          'sendMetric',
          {
            name: 'checkout.completed',
            channel: 'webchat',
            botId: 'bot-explicit',
            conversationId: 'conv-123',
            userId: 'user-456',
            version: 3,
            value: 250.5,
            tags: { flow: 'checkout', step: 3, paid: true }
          },
          HEADER_BOT_ID
        )
      )
    )
    const fullLabels = {
      instance,
      botId: 'bot-explicit',
      channel: 'webchat',
      conversationId: 'conv-123',
      flow: 'checkout',
      paid: 'true',
      step: '3',
      userId: 'user-456',
      version: '3'
    }
    expect(full.seriesName).toBe('checkout_completed_metric')
    expect(full.labels).toEqual(fullLabels)
    expect(Number.isInteger(full.timestamp)).toBe(true)

    // botId empty → x-bot-id; version as text; value as text; tags as JSON text with characters
    // line protocol must escape; an unrendered template counts as empty; a leading digit gets `_`.
    const textual = outputOf(
      await call(
        triggerAction(
          integration.url,
          configuration,
          'sendMetric',
          {
            name: '9lives-checkout',
            channel: '{{event.integration}}',
            botId: '',
            conversationId: 'conv, with=specials',
            userId: 'user 7',
            version: '1.4.2',
            value: '-0.125',
            tags: '{"flow": "a b,c=d", "retry": 2}'
          },
          HEADER_BOT_ID
        )
      )
    )
    const textualLabels = {
      instance,
      botId: HEADER_BOT_ID,
      conversationId: 'conv, with=specials',
      flow: 'a b,c=d',
      retry: '2',
      userId: 'user 7',
      version: '1.4.2'
    }
    expect(textual.seriesName).toBe('_9lives_checkout_metric')
    expect(textual.labels).toEqual(textualLabels)

    // Only the name: value 1, botId from the header, the Studio defaults omitted.
    const minimal = outputOf(
      await call(triggerAction(integration.url, configuration, 'sendMetric', { name: 'e2e_minimal' }, HEADER_BOT_ID))
    )
    expect(minimal.seriesName).toBe('e2e_minimal_metric')
    expect(minimal.labels).toEqual({ botId: HEADER_BOT_ID, instance })

    const expected = canonical([
      {
        metric: { __name__: 'checkout_completed_metric', ...fullLabels },
        values: [250.5],
        timestamps: [full.timestamp as number]
      },
      {
        metric: { __name__: '_9lives_checkout_metric', ...textualLabels },
        values: [-0.125],
        timestamps: [textual.timestamp as number]
      },
      {
        metric: { __name__: 'e2e_minimal_metric', botId: HEADER_BOT_ID, instance },
        values: [1],
        timestamps: [minimal.timestamp as number]
      }
    ])
    const match = '{__name__=~"checkout_completed_metric|_9lives_checkout_metric|e2e_minimal_metric"}'
    const stored = canonical(await exportWhen(match, (s) => s.length >= expected.length))
    expect(stored).toEqual(expected)
    expectedSeries.push(...expected)
  })

  it('includeConversationAndUserIds false: no conversationId or userId label; a template botId falls back to x-bot-id', async () => {
    const quiet = { ...configuration, includeConversationAndUserIds: false }
    const output = outputOf(
      await call(
        triggerAction(
          integration.url,
          quiet,
          'sendMetric',
          {
            name: 'e2e_quiet',
            channel: 'whatsapp',
            botId: '{{event.botId}}',
            conversationId: 'conv-never-stored',
            userId: 'user-never-stored',
            version: 12,
            value: 0
          },
          HEADER_BOT_ID
        )
      )
    )
    const labels = { botId: HEADER_BOT_ID, channel: 'whatsapp', version: '12', instance }
    expect(output).toEqual({ seriesName: 'e2e_quiet_metric', labels, timestamp: output.timestamp })
    const expected = [
      { metric: { __name__: 'e2e_quiet_metric', ...labels }, values: [0], timestamps: [output.timestamp as number] }
    ]
    const stored = canonical(await exportWhen('e2e_quiet_metric', (s) => s.length >= 1))
    expect(stored).toEqual(canonical(expected))
    expectedSeries.push(...expected)
  })

  it('a refused input: 400 with a message, and nothing stored', async () => {
    const answer = await call(
      triggerAction(
        integration.url,
        configuration,
        'sendMetric',
        { name: 'e2e refused', channel: 'web' },
        HEADER_BOT_ID
      )
    )
    expect(answer.status, answer.text).toBe(400)
    expect((answer.body as { message: string }).message).toMatch(/whitespace/u)
    // Checked at the end: the full export holds no e2e_refused series.
  })
})

describe('Send Raw Data, end to end', () => {
  it('several lines with float, integer, boolean and `value` fields, comments and blank lines', async () => {
    const data = [
      '# checkout funnel',
      'e2e_raw,room=a\\ b,kind=x temp=21.5,count=3i,ok=true',
      '',
      'e2e_raw,room=c value=42,neg=-1.25,off=false',
      'e2e_other,host=h1 value=7i'
    ].join('\n')
    const output = outputOf(
      await call(triggerAction(integration.url, configuration, 'sendRawData', { data }, HEADER_BOT_ID))
    )
    // The output reports Grafana's names: a field called `value` is just the measurement.
    expect(output.linesSent).toBe(3)
    expect(output.seriesNames).toEqual([
      'e2e_other',
      'e2e_raw',
      'e2e_raw_count',
      'e2e_raw_neg',
      'e2e_raw_off',
      'e2e_raw_ok',
      'e2e_raw_temp'
    ])
    const ts = output.timestamp as number
    expect(Number.isInteger(ts)).toBe(true)

    // VictoriaMetrics names a `value` field `<measurement>_value` (Grafana: `<measurement>`).
    const expected = canonical([
      { metric: { __name__: 'e2e_raw_temp', room: 'a b', kind: 'x', instance }, values: [21.5], timestamps: [ts] },
      { metric: { __name__: 'e2e_raw_count', room: 'a b', kind: 'x', instance }, values: [3], timestamps: [ts] },
      { metric: { __name__: 'e2e_raw_ok', room: 'a b', kind: 'x', instance }, values: [1], timestamps: [ts] },
      { metric: { __name__: 'e2e_raw_value', room: 'c', instance }, values: [42], timestamps: [ts] },
      { metric: { __name__: 'e2e_raw_neg', room: 'c', instance }, values: [-1.25], timestamps: [ts] },
      { metric: { __name__: 'e2e_raw_off', room: 'c', instance }, values: [0], timestamps: [ts] },
      { metric: { __name__: 'e2e_other_value', host: 'h1', instance }, values: [7], timestamps: [ts] }
    ])
    const stored = canonical(
      await exportWhen('{__name__=~"e2e_raw.*|e2e_other.*"}', (s) => s.length >= expected.length)
    )
    expect(stored).toEqual(expected)
    expectedSeries.push(...expected)
  })

  it('an invalid body is refused with the line and column, and nothing is stored', async () => {
    const answer = await call(
      triggerAction(
        integration.url,
        configuration,
        'sendRawData',
        { data: 'e2e_bad_ok f=1\ne2e_bad,t= f=2' },
        HEADER_BOT_ID
      )
    )
    expect(answer.status, answer.text).toBe(400)
    expect((answer.body as { message: string }).message).toMatch(/line 2, column \d+/u)
  })
})

describe('Send LLM Usage, end to end', () => {
  /** An instant PromQL query at the current second (VictoriaMetrics evaluates at whole seconds). */
  const promql = async (query: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const response = await fetch(
      `${vm.url}/api/v1/query?${new URLSearchParams({ query, time: String(Math.ceil(Date.now() / 1000)) })}`,
      {
        headers: { authorization: vm.authorization! },
        signal: AbortSignal.timeout(10_000)
      }
    )
    const body = (await response.json()) as {
      status: string
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }
    }
    expect(body.status, query).toBe('success')
    return body.data.result
  }
  const single = async (query: string): Promise<number> => {
    const result = await promql(query)
    expect(result, query).toHaveLength(1)
    return Number(result[0]!.value[1])
  }

  it('the LLM card output as an object and as JSON text: exact token sums, costs and durations back through PromQL', async () => {
    const common = { channel: 'webchat', botId: 'bot-llm', version: '2.1.0', tags: { flow: 'support' } }
    const asObject = outputOf(
      await call(
        triggerAction(
          integration.url,
          configuration,
          'sendLlmUsage',
          { ...common, response: generateContentOutput, durationMs: 1350 },
          HEADER_BOT_ID
        )
      )
    )
    const asText = outputOf(
      await call(
        triggerAction(
          integration.url,
          configuration,
          'sendLlmUsage',
          { ...common, response: JSON.stringify(generateContentOutput), durationMs: '900' },
          HEADER_BOT_ID
        )
      )
    )
    const labels = {
      instance,
      botId: 'bot-llm',
      channel: 'webchat',
      version: '2.1.0',
      flow: 'support',
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'openai',
      gen_ai_request_model: 'gpt-4o-mini-2024-07-18',
      gen_ai_response_finish_reason: 'stop'
    }
    const seriesNames = [
      'gen_ai_client_cost_usd',
      'gen_ai_client_operation_duration_seconds',
      'gen_ai_client_operations',
      'gen_ai_client_token_usage'
    ]
    for (const output of [asObject, asText]) {
      expect(output).toEqual({ seriesNames, labels, timestamp: output.timestamp })
    }
    const [t1, t2] = [asObject.timestamp as number, asText.timestamp as number]
    const cost = generateContentOutput.usage.inputCost + generateContentOutput.usage.outputCost
    const expected = canonical([
      { metric: { __name__: 'gen_ai_client_operations', ...labels }, values: [1, 1], timestamps: [t1, t2] },
      {
        metric: { __name__: 'gen_ai_client_operation_duration_seconds', ...labels },
        values: [1.35, 0.9],
        timestamps: [t1, t2]
      },
      { metric: { __name__: 'gen_ai_client_cost_usd', ...labels }, values: [cost, cost], timestamps: [t1, t2] },
      {
        metric: { __name__: 'gen_ai_client_token_usage', ...labels, gen_ai_token_type: 'input' },
        values: [1234, 1234],
        timestamps: [t1, t2]
      },
      {
        metric: { __name__: 'gen_ai_client_token_usage', ...labels, gen_ai_token_type: 'output' },
        values: [87, 87],
        timestamps: [t1, t2]
      }
    ])
    const match = '{__name__=~"gen_ai_client_.+", botId="bot-llm"}'
    const stored = canonical(await exportWhen(match, (s) => s.reduce((n, x) => n + x.values.length, 0) >= 10))
    expect(stored).toEqual(expected)
    expectedSeries.push(...expected)

    await sleep(1_000)
    const window = '{botId="bot-llm"}[10m]'
    const tokens = (type: string) =>
      `sum(sum_over_time(gen_ai_client_token_usage{gen_ai_token_type="${type}", botId="bot-llm"}[10m]))`
    expect(await single(tokens('input'))).toBe(2468)
    expect(await single(tokens('output'))).toBe(174)
    expect(await single(`sum(count_over_time(gen_ai_client_operations${window}))`)).toBe(2)
    expect(await single(`sum(sum_over_time(gen_ai_client_cost_usd${window}))`)).toBeCloseTo(2 * cost, 15)
    expect(await single(`sum(sum_over_time(gen_ai_client_operation_duration_seconds${window}))`)).toBeCloseTo(2.25, 12)
    expect(await single(`max(max_over_time(gen_ai_client_operation_duration_seconds${window}))`)).toBe(1.35)
  })

  it('the fields override the response; a failed call without a response is counted with its error type', async () => {
    const overridden = outputOf(
      await call(
        triggerAction(
          integration.url,
          configuration,
          'sendLlmUsage',
          {
            response: JSON.stringify(generateContentOutput),
            provider: 'azure',
            model: 'gpt-4o',
            inputTokens: 10,
            outputTokens: '20',
            cost: 0.5,
            stopReason: 'max_tokens',
            botId: 'bot-llm-override'
          },
          HEADER_BOT_ID
        )
      )
    )
    const failed = outputOf(
      await call(
        triggerAction(
          integration.url,
          configuration,
          'sendLlmUsage',
          {
            provider: 'openai',
            model: 'gpt-4o-mini',
            errorType: 'timeout',
            durationMs: 30000,
            botId: 'bot-llm-override'
          },
          HEADER_BOT_ID
        )
      )
    )
    const labels = {
      instance,
      botId: 'bot-llm-override',
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'azure',
      gen_ai_request_model: 'gpt-4o',
      gen_ai_response_finish_reason: 'max_tokens'
    }
    const failedLabels = {
      instance,
      botId: 'bot-llm-override',
      error_type: 'timeout',
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'openai',
      gen_ai_request_model: 'gpt-4o-mini'
    }
    expect(overridden.labels).toEqual(labels)
    expect(failed).toEqual({
      seriesNames: ['gen_ai_client_operation_duration_seconds', 'gen_ai_client_operations'],
      labels: failedLabels,
      timestamp: failed.timestamp
    })
    const [t1, t2] = [overridden.timestamp as number, failed.timestamp as number]
    const expected = canonical([
      { metric: { __name__: 'gen_ai_client_operations', ...labels }, values: [1], timestamps: [t1] },
      { metric: { __name__: 'gen_ai_client_cost_usd', ...labels }, values: [0.5], timestamps: [t1] },
      {
        metric: { __name__: 'gen_ai_client_token_usage', ...labels, gen_ai_token_type: 'input' },
        values: [10],
        timestamps: [t1]
      },
      {
        metric: { __name__: 'gen_ai_client_token_usage', ...labels, gen_ai_token_type: 'output' },
        values: [20],
        timestamps: [t1]
      },
      { metric: { __name__: 'gen_ai_client_operations', ...failedLabels }, values: [1], timestamps: [t2] },
      {
        metric: { __name__: 'gen_ai_client_operation_duration_seconds', ...failedLabels },
        values: [30],
        timestamps: [t2]
      }
    ])
    const stored = canonical(
      await exportWhen('{__name__=~"gen_ai_client_.+", botId="bot-llm-override"}', (s) => s.length >= expected.length)
    )
    expect(stored).toEqual(expected)
    expectedSeries.push(...expected)
  })

  it.each([
    ['negative input tokens', { inputTokens: -1 }, /Input tokens must be a whole number of tokens, 0 or more/],
    ['fractional output tokens', { outputTokens: 2.5 }, /Output tokens must be a whole number of tokens/],
    ['a negative cost', { cost: -0.01 }, /Cost must be a finite amount in US dollars, 0 or more/],
    ['an infinite cost', { cost: 'Infinity' }, /Cost must be a finite amount/],
    ['a negative duration', { durationMs: -1 }, /Duration must be a finite number of milliseconds, 0 or more/],
    [
      'a response that is not JSON',
      { response: 'the answer was 42' },
      /LLM response must be the LLM card's output as JSON text/
    ],
    ['a response that is a JSON list', { response: '[]' }, /not a list or a single value/],
    ['a response that is a number', { response: 42 }, /response: must be the LLM card's output/],
    [
      'a response with negative tokens',
      { response: JSON.stringify({ usage: { inputTokens: -5 } }) },
      /LLM response usage\.inputTokens must be a whole number/
    ],
    [
      'a model over 2048 bytes',
      { model: 'm'.repeat(2049) },
      /Label gen_ai_request_model: the value is 2049 bytes long/
    ],
    [
      'a provider over 2048 bytes',
      { provider: 'p'.repeat(2049) },
      /Label gen_ai_provider_name: the value is 2049 bytes long/
    ]
  ])('refuses %s: 400 with the message, and nothing stored', async (_, input, message) => {
    const answer = await call(
      triggerAction(
        integration.url,
        configuration,
        'sendLlmUsage',
        { response: JSON.stringify(generateContentOutput), botId: 'bot-llm-refused', ...input },
        HEADER_BOT_ID
      )
    )
    expect(answer.status, answer.text).toBe(400)
    expect((answer.body as { message: string }).message).toMatch(/^Send LLM Usage failed: /u)
    expect((answer.body as { message: string }).message).toMatch(message)
    // Checked at the end: the full export holds no bot-llm-refused series.
  })
})

describe('afterwards', () => {
  it('VictoriaMetrics holds exactly the expected series: nothing from register, refusals or failures', async () => {
    const at = Date.now()
    await writeSentinel('e2e_final_barrier', at)
    expectedSeries.push({ metric: { __name__: 'e2e_final_barrier_f', src: 'e2e' }, values: [1], timestamps: [at] })
    const all = await exportWhen('{__name__!=""}', (s) => s.some((x) => x.metric.__name__ === 'e2e_final_barrier_f'))
    expect(canonical(all)).toEqual(canonical(expectedSeries))
    expect(JSON.stringify(all)).not.toContain(CONTENT_MARKER)
  })

  it('the API key (and the Basic credentials) appear in no answer and nowhere in the integration’s output', () => {
    const key = vm.password
    const basic = Buffer.from(`${USER_ID}:${key}`).toString('base64')
    // Every 12-character window, so a shortened or partly scrubbed key is caught too.
    const windows = (secret: string) => Array.from({ length: secret.length - 11 }, (_, i) => secret.slice(i, i + 12))
    const secrets = [...windows(key), ...windows(basic)]
    const texts = [...answers.map((a) => a.text), integration.output()]
    expect(answers.length).toBeGreaterThanOrEqual(24)
    expect(texts.filter((text) => text.includes(CONTENT_MARKER))).toEqual([])
    expect(integration.output()).toContain('Grafana refused the credentials (401)')
    for (const text of texts) {
      for (const secret of secrets) {
        expect(
          text.includes(secret),
          `secret fragment ${JSON.stringify(secret)} in ${JSON.stringify(text.slice(0, 200))}`
        ).toBe(false)
      }
    }
  })
})
