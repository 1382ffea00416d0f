/**
 * Logs end to end: the BUILT bundle, served in its own process and called exactly as Botpress
 * Cloud calls it, writing to the Loki stand-in (dev/loki.ts, held to the measured Loki
 * behaviour) and to a real VictoriaMetrics. Every value a card takes is read back from the
 * stand-in as it stored it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { callIntegration, triggerAction, type IntegrationAnswer } from '../dev/botpress'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'
import { startLoki, type Loki } from '../dev/loki'
import { startVictoriaMetrics, type VictoriaMetrics } from '../dev/servers'
import { instanceOf } from './helpers/instance'

const USER_ID = '7406113'
const BOT = 'bot-logs-e2e'

let vm: VictoriaMetrics
let loki: Loki
let integration: IntegrationProcess
let instance: string
let configuration: Record<string, unknown>
/** Every answer of this file, checked for the keys at the end. */
const answers: IntegrationAnswer[] = []

const call = async (answer: Promise<IntegrationAnswer>): Promise<IntegrationAnswer> => {
  const result = await answer
  answers.push(result)
  return result
}

const outputOf = (answer: IntegrationAnswer): Record<string, unknown> => {
  expect(answer.status, answer.text).toBe(200)
  return (answer.body as { output: Record<string, unknown> }).output
}

const messageOf = (answer: IntegrationAnswer): string => {
  expect(answer.status, answer.text).toBe(400)
  return (answer.body as { message: string }).message
}

const sendLog = (input: unknown, config = configuration) =>
  call(triggerAction(integration.url, config, 'sendLog', input, BOT))

beforeAll(async () => {
  vm = await startVictoriaMetrics({ username: USER_ID })
  loki = await startLoki({ auth: { password: vm.password } })
  configuration = {
    grafanaUrl: `${vm.url}/influx/write`,
    grafanaUserId: USER_ID,
    apiKey: vm.password,
    logsUrl: loki.url,
    logsUserId: loki.username
  }
  integration = await startIntegrationProcess()
  instance = await instanceOf(integration)
})

afterAll(async () => {
  await integration?.stop()
  await loki?.stop()
  await vm?.stop()
})

beforeEach(() => loki.reset())

describe('register with logs configured', () => {
  it('proves both endpoints and stores nothing in either', async () => {
    const answer = await call(callIntegration(integration.url, 'register', configuration, { botId: BOT }))
    expect(answer.status, answer.text).toBe(200)
    expect(loki.requests.map((r) => [r.method, r.path, r.status])).toEqual([['POST', '/loki/api/v1/push', 204]])
    expect(loki.counts().stored).toBe(0)
    expect(integration.output()).toContain(`Grafana Cloud Logs accepted the credentials for user ${loki.username}`)
    expect(integration.output()).toContain('Conversation and user ID labels: on. Logs: on, every event logged: off.')
  })

  it('a logs user ID or key the logs endpoint refuses: the install fails naming the logs fields', async () => {
    const message = messageOf(
      await call(callIntegration(integration.url, 'register', { ...configuration, logsUserId: '1' }, { botId: BOT }))
    )
    expect(message).toMatch(
      /^Could not install the Grafana Cloud integration: Grafana refused the credentials \(401\)\. Check the Logs user ID and the API key .* logs:write scope/
    )
  })

  it('one logs field without the other: the install fails naming the missing one', async () => {
    const { logsUserId: _, ...urlOnly } = configuration
    expect(messageOf(await call(callIntegration(integration.url, 'register', urlOnly, { botId: BOT })))).toMatch(
      /Logs user ID is empty/
    )
    expect(loki.requests).toHaveLength(0)
  })
})

describe('Send Log, end to end', () => {
  it('stores every input exactly: one entry, the stream labels, the line and the metadata', async () => {
    const hostile = 'line 1\nline 2\r\n\t"quoted" \\ back\\slash \u0000 \u007f \u2028 🚀 {"level":"debug"} level=info'
    const output = outputOf(
      await sendLog({
        message: hostile,
        level: 'warning',
        event: 'payment-declined',
        channel: 'web chat "α"',
        botId: 'bot-explicit',
        conversationId: `conv ${hostile}`,
        userId: `user ${hostile}`,
        version: 3,
        attributes: { orderId: `A-1042 ${hostile}`, amount: 35.2 }
      })
    )
    const entries = loki.entries()
    expect(entries).toHaveLength(1)
    const [entry] = entries
    expect(entry!.labels).toEqual({
      service_name: 'botpress',
      botId: 'bot-explicit',
      channel: 'web chat "α"',
      version: '3'
    })
    expect(JSON.parse(entry!.line)).toEqual({ level: 'warning', message: hostile, instance })
    expect(entry!.metadata).toEqual({
      card: 'sendLog',
      event: 'payment_declined',
      conversationId: `conv ${hostile}`,
      userId: `user ${hostile}`,
      orderId: `A-1042 ${hostile}`,
      amount: '35.2',
      detected_level: 'warn'
    })
    expect(output).toEqual({
      streamLabels: entry!.labels,
      metadataKeys: ['amount', 'card', 'conversationId', 'event', 'orderId', 'userId'],
      timestamp: entry!.ts
    })
  })

  it('defaults: level info, the bot of the x-bot-id header, templates Studio did not render left out', async () => {
    outputOf(
      await sendLog({
        message: 'hello',
        channel: '{{event.integration}}',
        conversationId: '{{event.conversationId}}',
        userId: '{{event.userId}}'
      })
    )
    const [entry] = loki.entries()
    expect(entry!.labels).toEqual({ service_name: 'botpress', botId: BOT })
    expect(entry!.metadata).toEqual({ card: 'sendLog', detected_level: 'info' })
  })

  it('twenty identical calls are twenty entries, each at its own nanosecond', async () => {
    for (let i = 0; i < 20; i++) {
      outputOf(await sendLog({ message: 'same', conversationId: 'c' }))
    }
    const entries = loki.entries()
    expect(entries).toHaveLength(20)
    expect(new Set(entries.map((e) => e.ts)).size).toBe(20)
    expect(loki.counts().duplicatesMerged).toBe(0)
  })

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an empty message', { message: '' }, /^Send Log failed: Message is empty/],
    ['a line over 256 KB', { message: 'x'.repeat(262_144) }, /^Send Log failed: The log line is \d+ bytes long/],
    [
      'a channel over 2048 bytes',
      { message: 'm', channel: 'c'.repeat(2049) },
      /^Send Log failed: Log stream label channel: the value is 2049/
    ],
    [
      'a boolean attribute',
      { message: 'm', attributes: { ok: true } },
      /^Send Log failed: Invalid input: attributes: must be a JSON object of string or number values/
    ],
    [
      'a list attribute in JSON text',
      { message: 'm', attributes: '{"a": [1]}' },
      /^Send Log failed: Attribute "a" must be text or a number/
    ],
    [
      '21 attributes',
      { message: 'm', attributes: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 1])) },
      /^Send Log failed: Attributes: at most 20 are allowed/
    ],
    ['an unknown level', { message: 'm', level: 'fatal' }, /^Send Log failed: Invalid input: level: /],
    [
      'an event with whitespace',
      { message: 'm', event: 'two words' },
      /^Send Log failed: Event must not contain whitespace/
    ]
  ])('refuses %s before sending anything', async (_, input, message) => {
    expect(messageOf(await sendLog(input))).toMatch(message)
    expect(loki.requests).toHaveLength(0)
  })

  it('with logs off, says how to turn them on', async () => {
    const { logsUrl: _, logsUserId: __, ...metricsOnly } = configuration
    expect(messageOf(await sendLog({ message: 'm' }, metricsOnly))).toMatch(
      /^Send Log failed: Logs are off: fill in Logs endpoint URL and Logs user ID/
    )
  })
})

describe('the trail of every event', () => {
  const trail = () => ({ ...configuration, logEveryEvent: true, includeConversationAndUserIds: false })

  it('Send Metric: the sample without ID labels, and its log line at the same time with the IDs', async () => {
    const output = outputOf(
      await call(
        triggerAction(
          integration.url,
          trail(),
          'sendMetric',
          { name: 'flow_completed', value: 3, channel: 'webchat', conversationId: 'conv-7', userId: 'user-7' },
          BOT
        )
      )
    )
    const timestamp = output.timestamp as number
    const [series] = await vm.exportWhen('{__name__="flow_completed_metric"}', (s) => s.length === 1)
    expect(series!.metric).toEqual({ __name__: 'flow_completed_metric', botId: BOT, channel: 'webchat', instance })
    expect(series!.timestamps).toEqual([timestamp])
    const [entry] = loki.entries()
    expect(entry!.ts).toBe(`${timestamp}000000`)
    expect(entry!.metadata).toMatchObject({ card: 'sendMetric', event: 'flow_completed', conversationId: 'conv-7' })
    expect(entry!.metadata.value).toBe('3')
  })

  it('off by default: an install without the setting writes no log line', async () => {
    outputOf(await call(triggerAction(integration.url, configuration, 'sendMetric', { name: 'no_trail' }, BOT)))
    expect(loki.requests).toHaveLength(0)
  })
})

describe('secrets', () => {
  it('no answer and nothing the process printed holds the API key', () => {
    const key = vm.password
    for (const answer of answers) {
      expect(answer.text).not.toContain(key)
    }
    expect(integration.output()).not.toContain(key)
    expect(loki.requests.length + answers.length).toBeGreaterThan(0)
  })
})
