/**
 * The rule files as code: what rules/build.ts writes is what is committed, Prometheus' own
 * promtool accepts it, and its unit tests (test/promtool/*.test.yaml) prove every alert fires
 * with its labels and annotations where it must and stays quiet where it must not, and every
 * recording rule's value.
 */
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { buildDashboard } from '../dashboards/build'
import {
  RULES_NAMESPACE,
  RULES_PATH,
  USAGE_RULES_PATH,
  buildRules,
  buildUsageRules,
  runbookAnchor,
  rulesYaml,
  usageRulesYaml,
  type AlertingRule,
  type RecordingRule
} from '../rules/build'
import { DEFAULT_RULES_CONFIG, type RulesConfig } from '../rules/config'

const run = promisify(execFile)
const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool'
const PROMTOOL_TESTS = resolve(__dirname, 'promtool')
const UNIT_TEST_FILES = [
  'botpress-rules.test.yaml',
  'botpress-rules-weekly.test.yaml',
  'grafana-cloud-usage-rules.test.yaml'
].map((f) => join(PROMTOOL_TESTS, f))

const promtool = async (...args: string[]): Promise<string> => {
  try {
    const { stdout, stderr } = await run(PROMTOOL, args, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 })
    return stdout + stderr
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string }
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`)
  }
}

const allRules = () => [...buildRules().groups, ...buildUsageRules().groups].flatMap((g) => g.rules)
const alerts = () => allRules().filter((r): r is AlertingRule => 'alert' in r)
const records = () => allRules().filter((r): r is RecordingRule => 'record' in r)

interface PromtoolTestFile {
  tests: Array<{
    alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }>
    promql_expr_test?: Array<{ expr: string; exp_samples: unknown[] }>
  }>
}
const unitTests = (): PromtoolTestFile[] =>
  UNIT_TEST_FILES.map((f) => parse(readFileSync(f, 'utf8')) as PromtoolTestFile)

describe('the committed rule files', () => {
  it('are what rules/build.ts builds from rules/config.ts', () => {
    expect(readFileSync(RULES_PATH, 'utf8')).toBe(rulesYaml())
    expect(readFileSync(USAGE_RULES_PATH, 'utf8')).toBe(usageRulesYaml())
  })

  it('pass promtool check rules', async () => {
    const out = await promtool('check', 'rules', RULES_PATH, USAGE_RULES_PATH)
    expect(out).toContain(`SUCCESS: ${buildRules().groups.flatMap((g) => g.rules).length} rules found`)
    expect(out).toContain(`SUCCESS: ${buildUsageRules().groups.flatMap((g) => g.rules).length} rules found`)
  })

  it('pass their promtool unit tests', async () => {
    const out = await promtool('test', 'rules', ...UNIT_TEST_FILES)
    expect(out.match(/SUCCESS/g)?.length).toBe(UNIT_TEST_FILES.length)
  })

  it('name recording rules level:metric:operations and sum instances, conversations and users away', () => {
    for (const r of records()) {
      expect(r.record).toMatch(/^[a-zA-Z]+(_[a-zA-Z]+)*:[a-zA-Z0-9_]+:[a-zA-Z0-9_]+$/)
      const level = r.record.split(':')[0]!.split('_')
      for (const by of r.expr.matchAll(/(?:sum|quantile|count|group) by \(([^)]*)\)/g)) {
        expect(by[1]!.split(', '), r.record).toEqual(level)
      }
      expect(r.expr).not.toMatch(/\b(rate|increase|irate)\(/)
    }
  })

  it('give every alert a severity, a summary, a description and a runbook section in hub.md or docs/', () => {
    const docs = resolve(__dirname, '../docs')
    const pages = [
      resolve(__dirname, '../hub.md'),
      ...readdirSync(docs)
        .filter((f) => f.endsWith('.md'))
        .map((f) => join(docs, f))
    ]
    const anchors = new Set(
      pages
        .flatMap((page) => [...readFileSync(page, 'utf8').matchAll(/^#{2,4} (.+)$/gm)])
        .map((m) =>
          m[1]!
            .trim()
            .toLowerCase()
            .replace(/[^a-z0-9 _-]/g, '')
            .replace(/ /g, '-')
        )
    )
    for (const a of alerts()) {
      expect(['critical', 'warning']).toContain(a.labels.severity)
      expect(a.annotations.summary.length).toBeGreaterThan(10)
      expect(a.annotations.description.length).toBeGreaterThan(40)
      expect(a.annotations.runbook_url).toBe(`${DEFAULT_RULES_CONFIG.runbookBaseUrl}#${runbookAnchor(a.alert)}`)
      expect(anchors, `no section ### ${a.alert} in hub.md or docs/`).toContain(runbookAnchor(a.alert))
    }
  })

  it('have a promtool case where every alert fires and one where it does not, and a value for every recording rule', () => {
    const cases = unitTests().flatMap((f) => f.tests)
    const alertCases = cases.flatMap((t) => t.alert_rule_test ?? [])
    const exprCases = cases.flatMap((t) => t.promql_expr_test ?? [])
    // The active-series alert needs 8,001 series: its cases are built below, not written out.
    for (const a of alerts().filter((r) => r.alert !== 'BotpressActiveSeriesNearLimit')) {
      expect(
        alertCases.some((c) => c.alertname === a.alert && c.exp_alerts.length > 0),
        `${a.alert} fires somewhere`
      ).toBe(true)
      expect(
        alertCases.some((c) => c.alertname === a.alert && c.exp_alerts.length === 0),
        `${a.alert} stays quiet somewhere`
      ).toBe(true)
    }
    for (const r of records()) {
      expect(
        exprCases.some((c) => c.expr === r.record && c.exp_samples.length > 0),
        `${r.record} has a value test`
      ).toBe(true)
    }
  })
})

describe('BotpressActiveSeriesNearLimit (promtool, series built here)', () => {
  // promtool's query engine refuses queries over 10,000 samples, so the default cap (8,000
  // series of 10,000) cannot be reached there: the same rules built with a cap of 100 can.
  const config: RulesConfig = {
    ...DEFAULT_RULES_CONFIG,
    activeSeries: { ...DEFAULT_RULES_CONFIG.activeSeries, limit: 100 }
  }
  const threshold = config.activeSeries.limit * config.activeSeries.ratio
  const rule = () =>
    buildRules(config)
      .groups.flatMap((g) => g.rules)
      .find((r) => 'alert' in r && r.alert === 'BotpressActiveSeriesNearLimit') as AlertingRule

  /**
   * `cardSeries` Send Metric series (one per conversation, two instances), one Send Raw Data
   * series (only __mimir_source__), one Send Metric series that has both labels (counted once),
   * and a recorded series (never counted): `cardSeries` + 2 active series.
   */
  const testFile = (cardSeries: number, rules: string) => {
    const lines = [
      `rule_files: [${JSON.stringify(rules)}]`,
      'evaluation_interval: 1m',
      'tests:',
      '  - interval: 1m',
      '    input_series:'
    ]
    const series = (s: string) => lines.push(`      - series: '${s}'`, "        values: '1x30'")
    for (let i = 0; i < cardSeries; i++)
      series(`handoff_metric{botId="b1",channel="webchat",instance="i${i % 2}",conversationId="c${i}"}`)
    series('checkout_amount{__mimir_source__="influx",flow="cart"}')
    series('handoff_metric{__mimir_source__="influx",botId="b2",channel="webchat",instance="i0"}')
    series('botId_channel_version:handoff_metric:count1m{botId="b1",channel="webchat",version="1"}')
    return lines
  }

  it(`fires above ${threshold} series of a cap of 100 with the count in its summary, and not at ${threshold}`, async () => {
    expect(rule().expr).toMatch(new RegExp(`\\) > ${threshold}$`))
    const dir = await mkdtemp(join(tmpdir(), 'promtool-series-'))
    try {
      const rules = join(dir, 'rules.yaml')
      await writeFile(rules, rulesYaml(config))
      const over = testFile(threshold - 1, rules)
      over.push(
        '    alert_rule_test:',
        '      - eval_time: 10m',
        '        alertname: BotpressActiveSeriesNearLimit',
        '        exp_alerts: []',
        '      - eval_time: 20m',
        '        alertname: BotpressActiveSeriesNearLimit',
        '        exp_alerts:',
        '          - exp_labels: { severity: warning }',
        '            exp_annotations:',
        `              summary: ${JSON.stringify(`${threshold + 1} active series from the Botpress cards, the cap is 100`)}`,
        `              description: ${JSON.stringify(rule().annotations.description)}`,
        `              runbook_url: ${JSON.stringify(`${DEFAULT_RULES_CONFIG.runbookBaseUrl}#botpressactiveseriesnearlimit`)}`
      )
      const at = testFile(threshold - 2, rules)
      at.push(
        '    alert_rule_test:',
        '      - eval_time: 20m',
        '        alertname: BotpressActiveSeriesNearLimit',
        '        exp_alerts: []'
      )
      await writeFile(join(dir, 'over.test.yaml'), over.join('\n') + '\n')
      await writeFile(join(dir, 'at.test.yaml'), at.join('\n') + '\n')
      const out = await promtool('test', 'rules', join(dir, 'over.test.yaml'), join(dir, 'at.test.yaml'))
      expect(out.match(/SUCCESS/g)?.length).toBe(2)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('the configuration', () => {
  it('renames every series the rules read and write', () => {
    const config: RulesConfig = {
      ...DEFAULT_RULES_CONFIG,
      metrics: { ...DEFAULT_RULES_CONFIG.metrics, messages: 'msg_in', errors: 'oops' }
    }
    const text = rulesYaml(config)
    expect(text).toContain('botId_channel:oops_per_msg_in:ratio5m')
    expect(text).toContain('last_over_time(msg_in_metric[15m])')
    expect(text).not.toContain('message_received')
    expect(text).not.toContain('bot_error')
  })

  it('carries its thresholds and windows into the expressions', () => {
    const config: RulesConfig = {
      ...DEFAULT_RULES_CONFIG,
      errorRate: { window: '10m', threshold: 0.2, minMessages: 7, for: '0s' },
      activeSeries: { limit: 150_000, ratio: 0.7, window: '20m', for: '15m' },
      llmCost: { window: '7d', budgetUsd: 50, for: '1h' }
    }
    const alert = (name: string) =>
      buildRules(config)
        .groups.flatMap((g) => g.rules)
        .find((r) => 'alert' in r && r.alert === name) as AlertingRule
    expect(alert('BotpressHighErrorRate').expr).toBe(
      'botId_channel:bot_error_per_message_received:ratio10m > 0.2\nand on (botId, channel)\n' +
        'sum by (botId, channel) (count_over_time(message_received_metric[10m])) >= 7'
    )
    expect(alert('BotpressHighErrorRate').for).toBeUndefined()
    expect(alert('BotpressActiveSeriesNearLimit').expr).toMatch(/\) > 105000$/)
    expect(alert('BotpressLlmCostOverBudget').expr).toBe(
      'sum by (botId) (sum_over_time(gen_ai_client_cost_usd[7d])) > 50'
    )
    expect(alert('BotpressLlmCostOverBudget').for).toBe('1h')
    expect(alert('BotpressLlmCostOverBudget').annotations.description).toContain('the budget of 50 USD')
  })

  it('refuses values the rules cannot use, naming each', () => {
    const bad: RulesConfig = {
      ...DEFAULT_RULES_CONFIG,
      metrics: { ...DEFAULT_RULES_CONFIG.metrics, latency: 'response latency' },
      silent: { ...DEFAULT_RULES_CONFIG.silent, window: '15 minutes' },
      errorRate: { ...DEFAULT_RULES_CONFIG.errorRate, threshold: 5 },
      llmCost: { ...DEFAULT_RULES_CONFIG.llmCost, budgetUsd: -1 }
    }
    expect(() => buildRules(bad)).toThrow(
      /metrics\.latency must be a Send Metric name[\s\S]*silent\.window is not a PromQL duration[\s\S]*errorRate\.threshold must be between 0 and 1[\s\S]*llmCost\.budgetUsd must be a number above 0/
    )
  })
})

describe('the dashboard', () => {
  it("links to Grafana's alert list, filtered on the namespace the loader writes to", () => {
    expect(buildDashboard().links).toEqual([
      expect.objectContaining({ title: 'Alerts', type: 'link', url: '/alerting/list?search=namespace%3Abotpress' })
    ])
    expect(readFileSync(resolve(__dirname, '../scripts/load-rules.sh'), 'utf8')).toContain(
      `\nNAMESPACE=${RULES_NAMESPACE}\n`
    )
  })
})
