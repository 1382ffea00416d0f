import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { startRecordingServer, type RecordingServer } from '../dev/recording-server'
import type { Configuration } from './config'
import { describeFailure } from './errors'
import { sendLlmUsage } from './llm-usage'
import { sendMetric } from './metric'
import { parseWith } from './parse'
import type { RetryPolicy } from './retry-policy'
import { sendLlmUsageInputSchema, sendMetricInputSchema } from './schemas'

const API_KEY = 'glc_trail_test_key_51f0'
const policy: RetryPolicy = { attemptTimeoutMs: 300, budgetMs: 1_000, baseDelayMs: 20, maxRetries: 1 }

let metrics: RecordingServer
let logs: RecordingServer
let config: Configuration

beforeAll(async () => {
  metrics = await startRecordingServer()
  logs = await startRecordingServer()
  config = {
    writeUrl: `${metrics.url}/api/v1/push/influx/write`,
    userId: '1234567',
    apiKey: API_KEY,
    includeConversationAndUserIds: false,
    logs: { pushUrl: `${logs.url}/loki/api/v1/push`, userId: '654321' },
    logEveryEvent: true
  }
})
afterAll(async () => {
  await metrics.close()
  await logs.close()
})
beforeEach(() => {
  for (const server of [metrics, logs]) {
    server.requests.length = 0
    server.script([])
  }
})

type Pushed = {
  streams: Array<{ stream: Record<string, string>; values: Array<[string, string, Record<string, string>]> }>
}
const pushed = (): Pushed => JSON.parse(logs.requests[0]!.body.toString('utf8')) as Pushed

const metric = (input: object) => parseWith('Invalid input', sendMetricInputSchema, input)

/** The message a bot builder reads for a card's failure. */
const failure = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise
  } catch (error) {
    return describeFailure('Send Metric failed', error, { grafanaUserId: '1234567', apiKey: API_KEY })
  }
  throw new Error('expected the card to fail')
}

describe('the trail of Send Metric', () => {
  test('writes the sample and a log line with the same time, the IDs as metadata and no ID label', async () => {
    const result = await sendMetric(
      config,
      metric({
        name: 'flow-completed',
        value: 250,
        channel: 'webchat',
        conversationId: 'conv-1',
        userId: 'user-1',
        tags: { flow: 'checkout' }
      }),
      'bot-1',
      { policy }
    )
    expect(result.labels).not.toHaveProperty('conversationId')
    const sample = metrics.requests[0]!.body.toString('utf8')
    expect(sample).toMatch(new RegExp(`^flow_completed,.* metric=250 ${result.timestamp}$`))
    expect(logs.requests[0]!.headers['content-type']).toBe('application/json')
    expect(logs.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`654321:${API_KEY}`).toString('base64')}`)
    const [stream] = pushed().streams
    expect(stream!.stream).toEqual({ service_name: 'botpress', botId: 'bot-1', channel: 'webchat' })
    const [[ns, line, metadata]] = stream!.values as [[string, string, Record<string, string>]]
    expect(ns).toBe(`${result.timestamp}000000`)
    expect(JSON.parse(line)).toEqual({ level: 'info', message: 'flow_completed', instance: result.labels.instance })
    expect(metadata).toEqual({
      card: 'sendMetric',
      event: 'flow_completed',
      conversationId: 'conv-1',
      userId: 'user-1',
      value: '250',
      series: 'flow_completed_metric',
      flow: 'checkout'
    })
  })

  test('writes no log line when the setting is off', async () => {
    await sendMetric({ ...config, logEveryEvent: false }, metric({ name: 'x' }), 'bot-1', { policy })
    expect(metrics.requests).toHaveLength(1)
    expect(logs.requests).toHaveLength(0)
  })

  test('refuses, before sending anything, an extra label the log line names itself', async () => {
    const message = await failure(sendMetric(config, metric({ name: 'x', tags: { event: 'e' } }), 'bot-1', { policy }))
    expect(message).toMatch(/Extra label "event" would replace the log metadata event/)
    expect(metrics.requests).toHaveLength(0)
    expect(logs.requests).toHaveLength(0)
  })

  test('a refused log line fails the card and says the sample was stored', async () => {
    logs.script([{ kind: 'status', status: 401, body: 'invalid token' }])
    const message = await failure(sendMetric(config, metric({ name: 'x' }), 'bot-1', { policy }))
    expect(message).toMatch(
      /Grafana refused the credentials \(401\)\. Check the Logs user ID and the API key .* logs:write scope\..* The metric sample was stored; the log line was not stored\./
    )
    expect(metrics.requests).toHaveLength(1)
  })

  test('a refused sample fails the card and says the log line was stored', async () => {
    metrics.script([{ kind: 'status', status: 400, body: 'bad' }])
    const message = await failure(sendMetric(config, metric({ name: 'x' }), 'bot-1', { policy }))
    expect(message).toMatch(
      /Grafana rejected the data \(400\).* The metric sample was not stored; the log line was stored\./
    )
    expect(logs.requests).toHaveLength(1)
  })

  test('both refused: the card says neither was stored', async () => {
    metrics.script([{ kind: 'status', status: 403 }])
    logs.script([{ kind: 'status', status: 403 }])
    const message = await failure(sendMetric(config, metric({ name: 'x' }), 'bot-1', { policy }))
    expect(message).toMatch(/metrics:write scope\..* The metric sample was not stored; the log line was not stored\.$/)
  })

  test('a log push that got no answer: the card says the line may have been stored, never that it was not', async () => {
    logs.script([], { kind: 'hang' })
    const message = await failure(sendMetric(config, metric({ name: 'x' }), 'bot-1', { policy }))
    expect(message).toMatch(
      /No answer from 127\.0\.0\.1:\d+ within 0\.3 s after 2 attempts\..* The metric sample was stored; the log line may have been stored\.$/
    )
    expect(logs.requests).toHaveLength(2)
  })

  test('a lost connection to the metrics endpoint and a refused log line: each said as it is', async () => {
    metrics.script([], { kind: 'reset' })
    logs.script([], { kind: 'status', status: 400, body: 'bad' })
    const message = await failure(sendMetric(config, metric({ name: 'x' }), 'bot-1', { policy }))
    expect(message).toMatch(
      /was lost \(ECONNRESET\) after 2 attempts.* The metric sample may have been stored; the log line was not stored\.$/
    )
  })
})

describe('the trail of Send LLM Usage', () => {
  test("logs the call's labels and figures as metadata, at error level for a failed call", async () => {
    const input = parseWith('Invalid input', sendLlmUsageInputSchema, {
      provider: 'openai',
      model: 'gpt-4o',
      inputTokens: 1200,
      outputTokens: 85,
      inputCost: '0.000185',
      outputCost: '0.00034',
      durationMs: 1350,
      stopReason: 'max_tokens',
      errorType: 'timeout',
      conversationId: 'conv-9'
    })
    const result = await sendLlmUsage(config, input, 'bot-1', { policy })
    const [[ns, line, metadata]] = pushed().streams[0]!.values as [[string, string, Record<string, string>]]
    expect(ns).toBe(`${result.timestamp}000000`)
    expect(JSON.parse(line)).toMatchObject({ level: 'error', message: 'llm_usage' })
    expect(metadata).toEqual({
      card: 'sendLlmUsage',
      event: 'llm_usage',
      conversationId: 'conv-9',
      gen_ai_provider_name: 'openai',
      gen_ai_request_model: 'gpt-4o',
      gen_ai_operation_name: 'chat',
      gen_ai_response_finish_reason: 'max_tokens',
      error_type: 'timeout',
      gen_ai_usage_input_tokens: '1200',
      gen_ai_usage_output_tokens: '85',
      cost_usd: '0.000525',
      duration_seconds: '1.35'
    })
  })
})
