/**
 * Both cards and register through the built integration's HTTP handler, called exactly as
 * Botpress Cloud calls it, against a server that records what arrived.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { callIntegration, triggerAction } from '../dev/botpress'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'
import { startRecordingServer, type RecordingServer } from '../dev/recording-server'
import { instanceOf } from './helpers/instance'

const API_KEY = 'glc_handler_test_key_93c1'
const BASIC = `Basic ${Buffer.from(`1234567:${API_KEY}`).toString('base64')}`

let grafana: RecordingServer
let integration: IntegrationProcess
/** The name the integration process labels its samples with. */
let instance: string
let configuration: Record<string, unknown>

beforeAll(async () => {
  grafana = await startRecordingServer()
  integration = await startIntegrationProcess()
  instance = await instanceOf(integration)
  configuration = { grafanaUrl: `${grafana.url}/api/v1/push/influx/write`, grafanaUserId: '1234567', apiKey: API_KEY }
})
afterAll(async () => {
  await integration?.stop()
  await grafana?.close()
  expect(integration.output()).not.toContain(API_KEY)
})
beforeEach(() => {
  grafana.requests.length = 0
  grafana.script([])
})

const errorMessage = (body: unknown): string => {
  expect(body).toMatchObject({ type: 'Runtime', message: expect.any(String) })
  const { message } = body as { message: string }
  expect(message).not.toContain(API_KEY)
  return message
}

describe('register', () => {
  test('proves the credentials with an empty write', async () => {
    const answer = await callIntegration(integration.url, 'register', configuration)
    expect(answer.status).toBe(200)
    expect(grafana.requests).toHaveLength(1)
    const [request] = grafana.requests
    expect(request!.body).toHaveLength(0)
    expect(request!.headers.authorization).toBe(BASIC)
    expect(request!.query.toString()).toBe('precision=ms')
  })

  test('accepts the bare host and writes to the influx path', async () => {
    const answer = await callIntegration(integration.url, 'register', {
      ...configuration,
      grafanaUrl: `${grafana.url}/`
    })
    expect(answer.status).toBe(200)
    expect(grafana.requests[0]!.path).toBe('/api/v1/push/influx/write')
  })

  test.each([
    [
      401,
      /Could not install the Grafana Cloud integration: Grafana refused the credentials \(401\)\. Check the User ID and the API key.*metrics:write/
    ],
    [403, /refused the credentials \(403\).*metrics:write/],
    [404, /no influx write endpoint at .* \(404\)/]
  ])('fails the install on %d', async (status, message) => {
    grafana.script([{ kind: 'status', status }])
    const answer = await callIntegration(integration.url, 'register', configuration)
    expect(answer.status).toBe(400)
    expect(errorMessage(answer.body)).toMatch(message)
  })

  test('refuses an invalid configuration without calling Grafana', async () => {
    const answer = await callIntegration(integration.url, 'register', {
      ...configuration,
      grafanaUrl: 'https://logs-prod-006.grafana.net'
    })
    expect(errorMessage(answer.body)).toMatch(/Endpoint URL is a Loki \(logs\) URL/)
    expect(grafana.requests).toHaveLength(0)
  })

  test('unregister has nothing to clean up', async () => {
    const answer = await callIntegration(integration.url, 'unregister', configuration)
    expect(answer.status).toBe(200)
    expect(grafana.requests).toHaveLength(0)
  })
})

describe('Send Metric', () => {
  test('sends one line with every label and returns what it stored', async () => {
    const answer = await triggerAction(integration.url, configuration, 'sendMetric', {
      name: 'flow-completed',
      channel: 'webchat',
      botId: 'bot-42',
      conversationId: 'conv, 1',
      userId: 'user=1',
      version: '1.4.2',
      value: '250.5',
      tags: '{"flow": "checkout", "step": 3}'
    })
    expect(answer.status).toBe(200)
    const { output } = answer.body as { output: { seriesName: string; labels: object; timestamp: number } }
    expect(output.seriesName).toBe('flow_completed_metric')
    expect(output.labels).toEqual({
      botId: 'bot-42',
      channel: 'webchat',
      conversationId: 'conv, 1',
      flow: 'checkout',
      instance,
      step: '3',
      userId: 'user=1',
      version: '1.4.2'
    })
    expect(grafana.requests).toHaveLength(1)
    const [request] = grafana.requests
    expect(request!.path).toBe('/api/v1/push/influx/write')
    expect(request!.query.toString()).toBe('precision=ms')
    expect(request!.headers.authorization).toBe(BASIC)
    expect(request!.body.toString('utf8')).toBe(
      `flow_completed,botId=bot-42,channel=webchat,conversationId=conv\\,\\ 1,flow=checkout,instance=${instance},step=3,userId=user\\=1,version=1.4.2 metric=250.5 ${output.timestamp}`
    )
  })

  test('falls back to the bot ID of the request and skips unrendered templates', async () => {
    const answer = await triggerAction(
      integration.url,
      configuration,
      'sendMetric',
      { name: 'x', botId: '', conversationId: '{{event.conversationId}}' },
      'bot-from-header'
    )
    const { output } = answer.body as { output: { timestamp: number } }
    expect(grafana.requests[0]!.body.toString()).toBe(
      `x,botId=bot-from-header,instance=${instance} metric=1 ${output.timestamp}`
    )
  })

  test('keeps conversation and user IDs for an install stored without the switch (sdk 0.10 applies no default)', async () => {
    expect(Object.hasOwn(configuration, 'includeConversationAndUserIds')).toBe(false)
    const answer = await triggerAction(integration.url, configuration, 'sendMetric', {
      name: 'x',
      conversationId: 'c',
      userId: 'u'
    })
    const { output } = answer.body as { output: { timestamp: number } }
    expect(grafana.requests[0]!.body.toString()).toBe(
      `x,botId=bot-test,conversationId=c,instance=${instance},userId=u metric=1 ${output.timestamp}`
    )
  })

  test('leaves conversation and user IDs out when configured to', async () => {
    const answer = await triggerAction(
      integration.url,
      { ...configuration, includeConversationAndUserIds: false },
      'sendMetric',
      {
        name: 'x',
        conversationId: 'c',
        userId: 'u'
      }
    )
    const { output } = answer.body as { output: { timestamp: number } }
    expect(grafana.requests[0]!.body.toString()).toBe(
      `x,botId=bot-test,instance=${instance} metric=1 ${output.timestamp}`
    )
  })

  test.each([
    [
      { name: 'flow completed' },
      /Send Metric failed: Metric name must not contain whitespace \(found U\+0020 at position 5\)/
    ],
    [{}, /Send Metric failed: Invalid input: name: Required/],
    [{ name: 'x', tags: '{oops' }, /Extra labels must be a JSON object.*does not parse/],
    [{ name: 'x', tags: { channel: 'y' } }, /would replace the built-in label channel/],
    [{ name: 'x', value: 'many' }, /Value must be a finite number/]
  ])('refuses %j and sends nothing', async (input, message) => {
    const answer = await triggerAction(integration.url, configuration, 'sendMetric', input)
    expect(answer.status).toBe(400)
    expect(errorMessage(answer.body)).toMatch(message)
    expect(grafana.requests).toHaveLength(0)
  })

  test("passes on Grafana's own words when it rejects the data", async () => {
    grafana.script([{ kind: 'status', status: 400, body: 'max label value length exceeded' }])
    const answer = await triggerAction(integration.url, configuration, 'sendMetric', { name: 'x' })
    expect(errorMessage(answer.body)).toMatch(
      /rejected the data \(400\).*Grafana said: "max label value length exceeded"/
    )
  })
})

describe('Send Raw Data', () => {
  test('labels every line with the instance, stamps it with one millisecond and reports the series', async () => {
    const answer = await triggerAction(integration.url, configuration, 'sendRawData', {
      data: '# checkout funnel\ncheckout,step=cart items=3i,amount=35.2\n\n  requests,route=/a value=1\n'
    })
    expect(answer.status).toBe(200)
    const { output } = answer.body as { output: { linesSent: number; seriesNames: string[]; timestamp: number } }
    expect(output).toEqual({
      linesSent: 2,
      seriesNames: ['checkout_amount', 'checkout_items', 'requests'],
      timestamp: expect.any(Number)
    })
    expect(grafana.requests[0]!.body.toString()).toBe(
      `checkout,step=cart,instance=${instance} items=3i,amount=35.2 ${output.timestamp}\nrequests,route=/a,instance=${instance} value=1 ${output.timestamp}`
    )
    expect(grafana.requests[0]!.query.toString()).toBe('precision=ms')
  })

  test.each([
    ['m f=1\nm,t= f=2', /Invalid line protocol, nothing was sent: line 2, column 5: missing tag value/],
    ['m f=1 1700000000000', /line 1, column 7: the line has a timestamp: remove it, the integration adds/],
    ['m f="text"', /string, which Grafana drops/],
    ['# nothing\n', /There is no data to send/]
  ])('refuses %j and sends nothing', async (data, message) => {
    const answer = await triggerAction(integration.url, configuration, 'sendRawData', { data })
    expect(answer.status).toBe(400)
    expect(errorMessage(answer.body)).toMatch(message)
    expect(grafana.requests).toHaveLength(0)
  })
})
