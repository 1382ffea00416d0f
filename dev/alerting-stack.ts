/**
 * A local alerting pipeline for the rules: VictoriaMetrics (no auth, so vmalert needs no
 * password on its command line), Alertmanager 0.25 delivering to a webhook on loopback (a
 * recording server), and vmalert evaluating rules built from a configuration whose windows
 * are seconds, not minutes. For the end-to-end test and `npm run demo:alerts`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rulesYaml } from '../rules/build'
import { DEFAULT_RULES_CONFIG, type RulesConfig } from '../rules/config'
import { startRecordingServer, type RecordingServer } from './recording-server'
import {
  startAlertmanager,
  startVictoriaMetrics,
  startVmalert,
  type RunningServer,
  type VictoriaMetrics
} from './servers'

/** The default rules with every window and wait cut to seconds. */
export const SECONDS_RULES_CONFIG: RulesConfig = {
  ...DEFAULT_RULES_CONFIG,
  countWindow: '10s',
  silent: { window: '8s', lookback: '5m', for: '2s' },
  errorRate: { window: '10s', threshold: 0.2, minMessages: 5, for: '2s' },
  latency: { window: '10s', quantile: 0.95, thresholdMs: 2000, minSamples: 5, for: '2s' },
  trafficDrop: { window: '8s', offset: '16s', ratio: 0.5, minEventsBefore: 5, for: '2s' },
  activeSeries: { limit: 20, ratio: 0.8, window: '5m', for: '2s' },
  writesStopped: { window: '8s', lookback: '5m', for: '2s' },
  // A new series is searchable a few seconds after its first sample: a bot's expected names can
  // show up apart for that long, which must not fire.
  expectedMetrics: { window: '5m', for: '20s' }
}

export const EVALUATION_INTERVAL = '2s'

/** An alert as Alertmanager's webhook delivers it. */
export interface DeliveredAlert {
  readonly status: string
  readonly labels: Record<string, string>
  readonly annotations: Record<string, string>
}

export interface AlertingStack {
  readonly vm: VictoriaMetrics
  readonly alertmanager: RunningServer
  readonly vmalert: RunningServer
  readonly webhook: RecordingServer
  /** Every alert delivered so far, the latest delivery of each label set. */
  delivered(): DeliveredAlert[]
  /** The integration's configuration for writing to this VictoriaMetrics. */
  integrationConfiguration(includeConversationAndUserIds: boolean): Record<string, unknown>
  stop(): Promise<void>
}

export async function startAlertingStack(config: RulesConfig = SECONDS_RULES_CONFIG): Promise<AlertingStack> {
  const dir = await mkdtemp(join(tmpdir(), 'alerting-stack-'))
  const started: Array<{ stop(): Promise<void> }> = []
  const stop = async () => {
    for (const s of started.reverse()) await s.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const rules = join(dir, 'rules.yaml')
    await writeFile(rules, rulesYaml(config))
    const vm = await startVictoriaMetrics({ auth: false })
    started.push(vm)
    const webhook = await startRecordingServer()
    started.push({ stop: () => webhook.close() })
    const alertmanager = await startAlertmanager({
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
        ''
      ].join('\n')
    })
    started.push(alertmanager)
    const vmalert = await startVmalert({
      ruleFiles: [rules],
      datasourceUrl: vm.url,
      remoteWriteUrl: vm.url,
      notifierUrl: alertmanager.url,
      evaluationInterval: EVALUATION_INTERVAL
    })
    started.push(vmalert)
    const delivered = (): DeliveredAlert[] => {
      const byLabels = new Map<string, DeliveredAlert>()
      for (const req of webhook.requests) {
        for (const a of (JSON.parse(req.body.toString('utf8')) as { alerts: DeliveredAlert[] }).alerts) {
          byLabels.set(JSON.stringify(Object.entries(a.labels).sort()), a)
        }
      }
      return [...byLabels.values()]
    }
    const integrationConfiguration = (ids: boolean) => ({
      grafanaUrl: `${vm.url}/influx/write`,
      grafanaUserId: '1234567',
      apiKey: 'not-checked-by-this-victoria-metrics',
      includeConversationAndUserIds: ids
    })
    return { vm, alertmanager, vmalert, webhook, delivered, integrationConfiguration, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
