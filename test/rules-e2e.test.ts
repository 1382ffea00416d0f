/**
 * The rules end to end: events sent through the built bundle into VictoriaMetrics, vmalert
 * evaluating the rules built from a configuration with second-long windows, firing alerts
 * handed to Alertmanager 0.25, which delivers them to a webhook on loopback (a recording
 * server). Healthy traffic first (nothing may fire), then one bot goes silent while the other
 * errs, slows down and labels every event with a new conversation, then every bot stops.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rulesYaml } from '../rules/build'
import { DEFAULT_RULES_CONFIG, type RulesConfig } from '../rules/config'
import { triggerAction } from './helpers/botpress'
import { startIntegrationProcess, type IntegrationProcess } from './helpers/integration-process'
import { startRecordingServer, type RecordingServer } from './helpers/recording-server'
import { startAlertmanager, startVictoriaMetrics, startVmalert, type RunningServer, type VictoriaMetrics } from './helpers/servers'

const CONFIG: RulesConfig = {
  ...DEFAULT_RULES_CONFIG,
  countWindow: '10s',
  silent: { window: '8s', lookback: '5m', for: '2s' },
  errorRate: { window: '10s', threshold: 0.2, minMessages: 5, for: '2s' },
  latency: { window: '10s', quantile: 0.95, thresholdMs: 2000, minSamples: 5, for: '2s' },
  trafficDrop: { window: '8s', offset: '16s', ratio: 0.5, minEventsBefore: 5, for: '2s' },
  activeSeries: { limit: 20, ratio: 0.8, window: '5m', for: '2s' },
  writesStopped: { window: '8s', lookback: '5m', for: '2s' },
}
const EVALUATION_INTERVAL = '2s'
const TICK_MS = 500
/** Long enough for the week-over-week window and its offset (8 s + 16 s) to see only healthy traffic. */
const HEALTHY_MS = 30_000
const WAIT_MS = 60_000

const BUSY = 'bot-busy'
const QUIET = 'bot-quiet'

interface Delivered {
  readonly status: string
  readonly labels: Record<string, string>
  readonly annotations: Record<string, string>
}

let vm: VictoriaMetrics
let integration: IntegrationProcess
let webhook: RecordingServer
let alertmanager: RunningServer
let vmalert: RunningServer
let dir: string

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Every alert Alertmanager delivered so far, one per alert name and label set. */
const delivered = (): Delivered[] => {
  const byKey = new Map<string, Delivered>()
  for (const req of webhook.requests) {
    for (const a of (JSON.parse(req.body.toString('utf8')) as { alerts: Delivered[] }).alerts) {
      byKey.set(JSON.stringify(Object.entries(a.labels).sort()), a)
    }
  }
  return [...byKey.values()]
}

const key = (a: Delivered) => [a.labels.alertname, a.labels.botId ?? '', a.labels.channel ?? ''].join(' ')

const waitFor = async (what: string, done: () => boolean): Promise<void> => {
  const deadline = Date.now() + WAIT_MS
  for (let i = 0; i < WAIT_MS / 250 && Date.now() < deadline; i++) {
    if (done()) return
    await sleep(250)
  }
  throw new Error(`${what} did not happen within ${WAIT_MS} ms; delivered: ${delivered().map(key).join(', ') || 'nothing'}\n--- vmalert ---\n${vmalert.logTail()}`)
}

type Phase = 'healthy' | 'trouble' | 'stopped'
let phase: Phase = 'healthy'
let sender: Promise<void> | undefined
let sent = 0
let conversation = 0

const configuration = (ids: boolean) => ({
  grafanaUrl: `${vm.url}/influx/write`,
  grafanaUserId: '1234567',
  apiKey: 'not-checked-by-this-victoria-metrics',
  includeConversationAndUserIds: ids,
})

const send = async (ids: boolean, botId: string, channel: string, name: string, value?: number) => {
  const id = `c${++conversation}`
  const answer = await triggerAction(integration.url, configuration(ids), 'sendMetric', {
    name,
    botId,
    channel,
    version: '1.0.0',
    conversationId: id,
    userId: `u-${id}`,
    ...(value === undefined ? {} : { value }),
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
    } else {
      // The quiet bot stopped; the busy one errs on every message, answers in 5 s, and now
      // labels each event with its conversation: a new series per event.
      await send(true, BUSY, 'webchat', 'message_received')
      await send(true, BUSY, 'webchat', 'response_latency', 5000)
      await send(true, BUSY, 'webchat', 'bot_error')
    }
    await sleep(Math.max(0, TICK_MS - (Date.now() - started)))
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rules-e2e-'))
  const rules = join(dir, 'rules.yaml')
  await writeFile(rules, rulesYaml(CONFIG))
  // Without auth: vmalert would otherwise need the password on its command line.
  vm = await startVictoriaMetrics({ auth: false })
  webhook = await startRecordingServer()
  alertmanager = await startAlertmanager({
    config: [
      'route:',
      '  receiver: webhook',
      '  group_by: [alertname, botId, channel]',
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: webhook',
      '    webhook_configs:',
      `      - url: ${webhook.url}/alerts`,
      '        send_resolved: false',
      '',
    ].join('\n'),
  })
  integration = await startIntegrationProcess()
  vmalert = await startVmalert({
    ruleFiles: [rules],
    datasourceUrl: vm.url,
    remoteWriteUrl: vm.url,
    notifierUrl: alertmanager.url,
    evaluationInterval: EVALUATION_INTERVAL,
  })
  sender = traffic()
})

afterAll(async () => {
  phase = 'stopped'
  await sender?.catch(() => undefined)
  await vmalert?.stop()
  await alertmanager?.stop()
  await integration?.stop()
  await webhook?.close()
  await vm?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('rules evaluated by vmalert, delivered by Alertmanager', () => {
  it('fire nothing on healthy traffic, every rule evaluating without error', { timeout: HEALTHY_MS + 30_000 }, async () => {
    await sleep(HEALTHY_MS)
    const get = async <T>(url: string): Promise<T> => (await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).json()) as T
    const alerts = await get<{ data: { alerts: Array<{ name: string; state: string; labels: Record<string, string> }> | null } }>(`${vmalert.url}/api/v1/alerts`)
    expect(sent).toBeGreaterThan(100)
    expect((alerts.data.alerts ?? []).map((a) => `${a.name} ${a.state} ${JSON.stringify(a.labels)}`)).toEqual([])
    expect(webhook.requests).toHaveLength(0)

    const groups = await get<{ data: { groups: Array<{ rules: Array<{ name: string; lastError: string; lastEvaluation: string }> }> } }>(`${vmalert.url}/api/v1/rules`)
    const rules = groups.data.groups.flatMap((g) => g.rules)
    expect(rules).toHaveLength(16)
    expect(rules.filter((r) => r.lastError !== '').map((r) => `${r.name}: ${r.lastError}`)).toEqual([])
    const recorded = await get<{ data: { result: Array<{ metric: Record<string, string> }> } }>(
      `${vm.url}/api/v1/query?${new URLSearchParams({ query: 'botId_channel_version:message_received_metric:count10s' })}`,
    )
    expect(recorded.data.result.map((r) => `${r.metric.botId} ${r.metric.channel} ${r.metric.version}`).sort()).toEqual([
      `${BUSY} webchat 1.0.0`,
      `${QUIET} telegram 1.0.0`,
    ])
  })

  it('deliver silence, errors, slowness, the traffic drop and the series cap, and nothing else', { timeout: WAIT_MS + 10_000 }, async () => {
    phase = 'trouble'
    const expected = [
      'BotpressActiveSeriesNearLimit  ',
      `BotpressBotSilent ${QUIET} telegram`,
      `BotpressHighErrorRate ${BUSY} webchat`,
      `BotpressSlowResponses ${BUSY} webchat`,
      `BotpressTrafficDrop ${QUIET} telegram`,
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
      annotations: { summary: `Bot ${QUIET} on telegram received no message for 8s` },
    })
    expect(find(`BotpressHighErrorRate ${BUSY} webchat`).labels.severity).toBe('warning')
    expect(find(`BotpressHighErrorRate ${BUSY} webchat`).annotations.summary).toMatch(new RegExp(`^Bot ${BUSY} on webchat: \\d+(\\.\\d+)?% of messages end in an error$`))
    expect(find(`BotpressSlowResponses ${BUSY} webchat`).annotations.summary).toBe(`Bot ${BUSY} on webchat: p95 response time is 5000 ms`)
    expect(find(`BotpressTrafficDrop ${QUIET} telegram`).annotations.summary).toMatch(new RegExp(`^Bot ${QUIET} on telegram: messages down to \\d+(\\.\\d+)?% of 16s ago$`))
    expect(find('BotpressActiveSeriesNearLimit  ').annotations.summary).toMatch(/^\d+ active series from the Botpress cards, the cap is 20$/)
  })

  it('deliver "writes stopped" once every bot is quiet', { timeout: WAIT_MS + 10_000 }, async () => {
    phase = 'stopped'
    await sender
    await waitFor('BotpressWritesStopped', () => delivered().some((a) => a.labels.alertname === 'BotpressWritesStopped'))
    expect(delivered().find((a) => a.labels.alertname === 'BotpressWritesStopped')).toMatchObject({
      status: 'firing',
      labels: { severity: 'critical' },
      annotations: { summary: 'No Botpress card wrote anything for 8s' },
    })
  })
})
