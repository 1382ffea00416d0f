import { describe, expect, test } from 'vitest'
import { CONTENT_MARKER, generateContentOutput } from '../dev/generate-content-output'
import type { LabelContext } from './labels'
import { buildLlmUsageEvent } from './llm-usage'
import { parseWith } from './parse'
import { sendLlmUsageInputSchema } from './schemas'

const context: LabelContext = { botId: 'bot-from-ctx', includeConversationAndUserIds: false }
const T = 1_700_000_000_123
const I = '0a1b2c3d4e5f6'

const build = (input: Record<string, unknown>, ctx: LabelContext = context) =>
  buildLlmUsageEvent(parseWith('Invalid input', sendLlmUsageInputSchema, input), ctx, { instance: I, timestamp: T })

const RESPONSE = JSON.stringify(generateContentOutput)
const LABELS =
  'botId=bot-from-ctx,channel=webchat,gen_ai_operation_name=chat,gen_ai_provider_name=openai,gen_ai_request_model=gpt-4o-mini-2024-07-18,gen_ai_response_finish_reason=stop'

describe('Send LLM Usage lines', () => {
  test('an LLM card output as JSON text: the call line with the cost, one line per token type, one timestamp', () => {
    const event = build({ response: RESPONSE, channel: 'webchat', durationMs: 1350 })
    expect(event.body.split('\n')).toEqual([
      `gen_ai_client,${LABELS},instance=${I} operations=1,operation_duration_seconds=1.35,cost_usd=0.0002373 ${T}`,
      `gen_ai_client,${LABELS},gen_ai_token_type=input,instance=${I} token_usage=1234 ${T}`,
      `gen_ai_client,${LABELS},gen_ai_token_type=output,instance=${I} token_usage=87 ${T}`
    ])
    expect(event.seriesNames).toEqual([
      'gen_ai_client_cost_usd',
      'gen_ai_client_operation_duration_seconds',
      'gen_ai_client_operations',
      'gen_ai_client_token_usage'
    ])
    expect(event.labels).toEqual({
      botId: 'bot-from-ctx',
      channel: 'webchat',
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'openai',
      gen_ai_request_model: 'gpt-4o-mini-2024-07-18',
      gen_ai_response_finish_reason: 'stop',
      instance: I
    })
    expect(event.timestamp).toBe(T)
  })

  test('the output object itself reads the same as its JSON text', () => {
    expect(build({ response: generateContentOutput, channel: 'webchat' })).toEqual(
      build({ response: RESPONSE, channel: 'webchat' })
    )
  })

  test('never carries message content, ids or anything else the response holds', () => {
    const event = build({ response: RESPONSE })
    expect(event.body).not.toContain(CONTENT_MARKER)
    expect(event.body).not.toContain(generateContentOutput.id)
    expect(JSON.stringify(event)).not.toContain('assistant')
  })

  test('the fields override the response', () => {
    const event = build({
      response: RESPONSE,
      provider: 'azure',
      model: 'gpt-4o',
      operation: 'text_completion',
      inputTokens: '10',
      outputTokens: 20,
      inputCost: 0.5,
      stopReason: 'max_tokens',
      errorType: 'timeout'
    })
    expect(event.labels).toMatchObject({
      gen_ai_provider_name: 'azure',
      gen_ai_request_model: 'gpt-4o',
      gen_ai_operation_name: 'text_completion',
      gen_ai_response_finish_reason: 'max_tokens',
      error_type: 'timeout'
    })
    const lines = event.body.split('\n')
    // The input cost given, the output cost of the response.
    expect(lines[0]).toMatch(new RegExp(` operations=1,cost_usd=${0.5 + generateContentOutput.usage.outputCost} ${T}$`))
    expect(lines[1]).toMatch(new RegExp(`,gen_ai_token_type=input,instance=${I} token_usage=10 ${T}$`))
    expect(lines[2]).toMatch(new RegExp(`,gen_ai_token_type=output,instance=${I} token_usage=20 ${T}$`))
  })

  test('writes the sum of the input and output costs as the decimal it is, without float noise', () => {
    const { body } = build({ inputCost: '0.000185', outputCost: 0.00034 })
    expect(body.split('\n')[0]).toMatch(new RegExp(` operations=1,cost_usd=0\\.000525 ${T}$`))
  })

  test('the total cost wins over its parts; without parts the response’s botpress.cost counts', () => {
    expect(build({ response: RESPONSE, cost: '0.25' }).body).toContain(' operations=1,cost_usd=0.25 ')
    const legacy = JSON.stringify({ model: 'm', botpress: { cost: 0.125 } })
    expect(build({ response: legacy }).body).toBe(
      `gen_ai_client,botId=bot-from-ctx,gen_ai_operation_name=chat,gen_ai_request_model=m,instance=${I} operations=1,cost_usd=0.125 ${T}`
    )
  })

  test('without a response or figures, the call is still counted once', () => {
    const event = build({ model: 'm', errorType: 'rate_limited', durationMs: 0 })
    expect(event.body).toBe(
      `gen_ai_client,botId=bot-from-ctx,error_type=rate_limited,gen_ai_operation_name=chat,gen_ai_request_model=m,instance=${I} operations=1,operation_duration_seconds=0 ${T}`
    )
    expect(event.seriesNames).toEqual(['gen_ai_client_operation_duration_seconds', 'gen_ai_client_operations'])
  })

  test.each(['', '   ', '{{workflow.llmOutput}}'])('an empty or unrendered response %j is no response', (response) => {
    expect(build({ response, inputTokens: 1 }).body.split('\n')).toHaveLength(2)
  })

  test('extra labels and the conversation and user IDs follow the configuration, as for Send Metric', () => {
    const event = build(
      { response: RESPONSE, conversationId: 'c1', userId: 'u1', version: 3, tags: '{"flow": "support"}' },
      { ...context, includeConversationAndUserIds: true }
    )
    expect(event.labels).toMatchObject({ conversationId: 'c1', userId: 'u1', version: '3', flow: 'support' })
  })
})

describe('refusals', () => {
  test.each([
    [{ inputTokens: -1 }, /Input tokens must be a whole number of tokens, 0 or more \(got "-1"\)/],
    [{ outputTokens: 1.5 }, /Output tokens must be a whole number of tokens/],
    [{ outputTokens: '12abc' }, /Output tokens must be a whole number of tokens/],
    [{ inputTokens: 2 ** 53 }, /Input tokens must be a whole number/],
    [{ cost: -0.01 }, /Cost must be a finite amount in US dollars, 0 or more/],
    [{ cost: 'Infinity' }, /Cost must be a finite amount/],
    [{ inputCost: '-1' }, /Input cost must be a finite amount/],
    [{ outputCost: 'NaN' }, /Output cost must be a finite amount/],
    [{ durationMs: -5 }, /Duration must be a finite number of milliseconds, 0 or more/],
    [{ durationMs: '1e400' }, /Duration must be a finite number of milliseconds/]
  ])('%j', (input, message) => {
    expect(() => build({ response: RESPONSE, ...input })).toThrow(message)
  })

  test.each([
    [{ usage: { inputTokens: -3 } }, /LLM response usage\.inputTokens must be a whole number of tokens/],
    [{ usage: { outputTokens: 2.5 } }, /LLM response usage\.outputTokens must be a whole number/],
    [{ usage: { inputCost: -1 } }, /LLM response usage\.inputCost must be a finite amount/],
    [{ botpress: { cost: -1 } }, /LLM response botpress\.cost must be a finite amount/],
    [{ usage: { inputTokens: '12' } }, /LLM response: usage\.inputTokens: Expected number, received string/],
    [{ model: 5 }, /LLM response: model: Expected string, received number/],
    [{ choices: 'stop' }, /LLM response: choices: Expected array/]
  ])('a response with %j', (response, message) => {
    expect(() => build({ response: JSON.stringify(response) })).toThrow(message)
  })

  test('a bad number in the response is refused even when a field overrides it', () => {
    expect(() => build({ response: JSON.stringify({ usage: { inputTokens: -3 } }), inputTokens: 5 })).toThrow(
      /usage\.inputTokens/
    )
  })

  test.each([
    ['text that is not JSON', 'not json', /LLM response must be the LLM card's output as JSON text .*does not parse/],
    ['a JSON list', '[1, 2]', /not a list or a single value/],
    ['a JSON number', '42', /not a list or a single value/],
    ['JSON null', 'null', /not a list or a single value/],
    ['an object turned into text by a template', '[object Object]', /"\[object Object\]": pass the output as JSON text/]
  ])('a response that is %s', (_, response, message) => {
    expect(() => build({ response })).toThrow(message)
  })

  test.each([[42], [true], [null]])('a response of type %j', (response) => {
    expect(() => build({ response })).toThrow(/response: must be the LLM card's output/)
  })

  test('a list passed as the response object is refused', () => {
    expect(() => build({ response: [generateContentOutput] })).toThrow(/not a list or a single value/)
  })

  test.each([
    [
      'model',
      { model: 'm'.repeat(2049) },
      /Label gen_ai_request_model: the value is 2049 bytes long; label values are limited to 2048 bytes/
    ],
    ['provider', { provider: 'é'.repeat(1025) }, /Label gen_ai_provider_name: the value is 2050 bytes long/],
    [
      'model from the response',
      { response: JSON.stringify({ model: 'x'.repeat(3000) }) },
      /Label gen_ai_request_model: the value is 3000 bytes/
    ]
  ])('a %s over Grafana’s label limit', (_, input, message) => {
    expect(() => build(input)).toThrow(message)
  })

  test('a model and a provider at Grafana’s label limit are accepted', () => {
    const event = build({ model: 'm'.repeat(2048), provider: 'é'.repeat(1024) })
    expect(event.labels.gen_ai_request_model).toHaveLength(2048)
    expect(event.labels.gen_ai_provider_name).toHaveLength(1024)
  })

  test.each(['gen_ai_token_type', 'gen_ai_request_model', 'error_type', 'channel', 'instance'])(
    'an extra label %s that would replace one of the card’s',
    (key) => {
      expect(() => build({ tags: { [key]: 'x' } })).toThrow(/Extra label/)
    }
  )
})

describe('no input can add a line, a label or a series', () => {
  const hostile = ['a\nb token_usage=666 1', 'a,evil=1', 'a evil=1', 'x=y', 'trailing\\', '\r\n# comment', 'tab\there']
  test.each(hostile)('in provider, model and stop reason: %j', (text) => {
    const event = build({ response: RESPONSE, provider: text, model: text, stopReason: text })
    const lines = event.body.split('\n')
    expect(lines).toHaveLength(3)
    for (const line of lines) {
      expect(line).not.toMatch(/[\r\t]/)
      expect(line.startsWith('gen_ai_client,botId=bot-from-ctx,gen_ai_operation_name=chat,gen_ai_provider_name=')).toBe(
        true
      )
    }
    expect(Object.keys(event.labels)).toEqual([
      'botId',
      'gen_ai_operation_name',
      'gen_ai_provider_name',
      'gen_ai_request_model',
      'gen_ai_response_finish_reason',
      'instance'
    ])
  })
})
