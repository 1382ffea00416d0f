/**
 * The rules end to end: events sent through the built bundle into VictoriaMetrics, vmalert
 * evaluating the rules built from a configuration with second-long windows, firing alerts
 * handed to Alertmanager 0.25, which delivers them to a webhook on loopback (a recording
 * server). Healthy traffic first (nothing may fire), then one bot goes silent while the other
 * errs, slows down and labels its events with a new conversation each, then every bot stops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  SECONDS_RULES_CONFIG as CONFIG,
  startAlertingStack,
  type AlertingStack,
  type DeliveredAlert
} from '../dev/alerting-stack'
import { triggerAction } from '../dev/botpress'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'
import { buildRules } from '../rules/build'

const TICK_MS = 500
/** Long enough for the week-over-week window and its offset (8 s + 16 s) to see only healthy traffic. */
const HEALTHY_MS = 30_000
const WAIT_MS = 60_000

const BUSY = 'bot-busy'
const QUIET = 'bot-quiet'

let stack: AlertingStack
let integration: IntegrationProcess

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

const delivered = () => stack.delivered()

const key = (a: DeliveredAlert) => [a.labels.alertname, a.labels.botId ?? '', a.labels.channel ?? ''].join(' ')

const waitFor = async (what: string, done: () => boolean): Promise<void> => {
  const deadline = Date.now() + WAIT_MS
  for (let i = 0; i < WAIT_MS / 250 && Date.now() < deadline; i++) {
    if (done()) return
    await sleep(250)
  }
  throw new Error(
    `${what} did not happen within ${WAIT_MS} ms; delivered: ${delivered().map(key).join(', ') || 'nothing'}\n--- vmalert ---\n${stack.vmalert.logTail()}`
  )
}

type Phase = 'healthy' | 'trouble' | 'stopped'
let phase: Phase = 'healthy'
let sender: Promise<void> | undefined
let sent = 0
let conversation = 0

const send = async (ids: boolean, botId: string, channel: string, name: string, value?: number) => {
  const id = `c${++conversation}`
  const answer = await triggerAction(integration.url, stack.integrationConfiguration(ids), 'sendMetric', {
    name,
    botId,
    channel,
    version: '1.0.0',
    conversationId: id,
    userId: `u-${id}`,
    ...(value === undefined ? {} : { value })
  })
  if (answer.status !== 200) throw new Error(`sendMetric answered ${answer.status}: ${answer.text}`)
  sent++
}

/** The bots' traffic, one tick every TICK_MS, as the phase says; bounded by a deadline. */
const traffic = async (): Promise<void> => {
  const deadline = Date.now() + HEALTHY_MS + 3 * WAIT_MS
  for (let tick = 0; phase !== 'stopped' && Date.now() < deadline; tick++) {
    const started = Date.now()
    if (phase === 'healthy') {
      await send(false, BUSY, 'webchat', 'message_received')
      await send(false, BUSY, 'webchat', 'response_latency', 300)
      if (tick % 10 === 0) await send(false, BUSY, 'webchat', 'bot_error')
      await send(false, QUIET, 'telegram', 'message_received')
      await send(false, QUIET, 'telegram', 'response_latency', 400)
    } else {
      // The quiet bot stopped; the busy one errs on every message, answers in 5 s, and labels
      // its errors and answers with their conversation: a new series per event. Its messages
      // stay in their series (VictoriaMetrics makes a new series searchable a few seconds late,
      // which would read as a traffic drop).
      await send(false, BUSY, 'webchat', 'message_received')
      await send(true, BUSY, 'webchat', 'response_latency', 5000)
      await send(true, BUSY, 'webchat', 'bot_error')
    }
    await sleep(Math.max(0, TICK_MS - (Date.now() - started)))
  }
}

beforeAll(async () => {
  stack = await startAlertingStack()
  integration = await startIntegrationProcess()
  sender = traffic()
})

afterAll(async () => {
  phase = 'stopped'
  await sender?.catch(() => undefined)
  await integration?.stop()
  await stack?.stop()
})

describe('rules evaluated by vmalert, delivered by Alertmanager', () => {
  it(
    'fire nothing on healthy traffic, every rule evaluating without error',
    { timeout: HEALTHY_MS + 30_000 },
    async () => {
      await sleep(HEALTHY_MS)
      const get = async <T>(url: string): Promise<T> =>
        (await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).json()) as T
      const alerts = await get<{
        data: { alerts: Array<{ name: string; state: string; labels: Record<string, string> }> | null }
      }>(`${stack.vmalert.url}/api/v1/alerts`)
      expect(sent).toBeGreaterThan(100)
      expect((alerts.data.alerts ?? []).map((a) => `${a.name} ${a.state} ${JSON.stringify(a.labels)}`)).toEqual([])
      expect(stack.webhook.requests).toHaveLength(0)

      const groups = await get<{
        data: { groups: Array<{ rules: Array<{ name: string; lastError: string; lastEvaluation: string }> }> }
      }>(`${stack.vmalert.url}/api/v1/rules`)
      const rules = groups.data.groups.flatMap((g) => g.rules)
      expect(rules).toHaveLength(buildRules(CONFIG).groups.flatMap((g) => g.rules).length)
      expect(rules.filter((r) => r.lastError !== '').map((r) => `${r.name}: ${r.lastError}`)).toEqual([])
      const recorded = await get<{ data: { result: Array<{ metric: Record<string, string> }> } }>(
        `${stack.vm.url}/api/v1/query?${new URLSearchParams({ query: 'botId_channel_version:message_received_metric:count10s' })}`
      )
      expect(
        recorded.data.result.map((r) => `${r.metric.botId} ${r.metric.channel} ${r.metric.version}`).sort()
      ).toEqual([`${BUSY} webchat 1.0.0`, `${QUIET} telegram 1.0.0`])
    }
  )

  it(
    'deliver silence, errors, slowness, the traffic drop and the series cap, and nothing else',
    { timeout: WAIT_MS + 10_000 },
    async () => {
      phase = 'trouble'
      const expected = [
        'BotpressActiveSeriesNearLimit  ',
        `BotpressBotSilent ${QUIET} telegram`,
        `BotpressHighErrorRate ${BUSY} webchat`,
        `BotpressSlowResponses ${BUSY} webchat`,
        `BotpressTrafficDrop ${QUIET} telegram`
      ]
      await waitFor('the five alerts', () => expected.every((k) => delivered().some((a) => key(a) === k)))
      const alerts = delivered()
      expect(alerts.map(key).sort()).toEqual(expected)
      const find = (k: string) => alerts.find((a) => key(a) === k)!
      for (const a of alerts) {
        expect(a.status).toBe('firing')
        expect(a.annotations.runbook_url).toBe(`${CONFIG.runbookBaseUrl}#${a.labels.alertname!.toLowerCase()}`)
        expect(a.annotations.description).not.toBe('')
      }
      expect(find(`BotpressBotSilent ${QUIET} telegram`)).toMatchObject({
        labels: { severity: 'critical' },
        annotations: { summary: `Bot ${QUIET} on telegram received no message for 8s` }
      })
      expect(find(`BotpressHighErrorRate ${BUSY} webchat`).labels.severity).toBe('warning')
      expect(find(`BotpressHighErrorRate ${BUSY} webchat`).annotations.summary).toMatch(
        new RegExp(`^Bot ${BUSY} on webchat: \\d+(\\.\\d+)?% of messages end in an error$`)
      )
      expect(find(`BotpressSlowResponses ${BUSY} webchat`).annotations.summary).toBe(
        `Bot ${BUSY} on webchat: p95 response time is 5000 ms`
      )
      expect(find(`BotpressTrafficDrop ${QUIET} telegram`).annotations.summary).toMatch(
        new RegExp(`^Bot ${QUIET} on telegram: messages down to \\d+(\\.\\d+)?% of 16s ago$`)
      )
      expect(find('BotpressActiveSeriesNearLimit  ').annotations.summary).toMatch(
        /^\d+ active series from the Botpress cards, the cap is 20$/
      )
    }
  )

  it('deliver "writes stopped" once every bot is quiet', { timeout: WAIT_MS + 10_000 }, async () => {
    phase = 'stopped'
    await sender
    await waitFor('BotpressWritesStopped', () =>
      delivered().some((a) => a.labels.alertname === 'BotpressWritesStopped')
    )
    expect(delivered().find((a) => a.labels.alertname === 'BotpressWritesStopped')).toMatchObject({
      status: 'firing',
      labels: { severity: 'critical' },
      annotations: { summary: 'No Botpress card wrote anything for 8s' }
    })
  })
})
