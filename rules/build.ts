/**
 * Builds the recording and alerting rules for the series the integration's cards produce,
 * in Prometheus' rule-file format (what Grafana Cloud's ruler, Mimir, Prometheus and vmalert
 * load), from the configuration in ./config.ts.
 *
 *   npm run rules          writes rules/botpress-rules.yaml and rules/grafana-cloud-usage-rules.yaml
 *   npm run check:rules    exits 1 when a committed file differs from what this builds
 *
 * Every sample is one event, stamped per process with its own `instance` label and, with IDs
 * on, `conversationId` and `userId`: counts are count_over_time (sums sum_over_time), never
 * rate(), and every aggregation names the labels it keeps (`sum by (botId, channel, ...)`), so
 * instances, conversations, users and __mimir_source__ are summed away and counts are exact.
 */
import { join } from 'node:path'
import { stringify } from 'yaml'
import { writeOrCheck } from '../dev/generated-files'
import { LLM_SERIES, SEND_METRIC_SERIES_PATTERN, sendMetricSeries } from '../src/series-names'
import { DEFAULT_RULES_CONFIG, type RulesConfig } from './config'

export const RULES_PATH = join(__dirname, 'botpress-rules.yaml')
export const USAGE_RULES_PATH = join(__dirname, 'grafana-cloud-usage-rules.yaml')

/** The ruler namespace scripts/load-rules.sh loads into by default (Grafana shows it as a folder). */
export const RULES_NAMESPACE = 'botpress'

export const RECORDING_GROUP = 'botpress-recording'
export const ALERTS_GROUP = 'botpress-alerts'
export const USAGE_GROUP = 'botpress-grafana-cloud-usage'

/** Matches every series the Send Metric card produces (never a recorded `a:b:c` name). */
const ALL_CARD_METRICS = `{__name__=~"${SEND_METRIC_SERIES_PATTERN}"}`
/** Everything written through Grafana Cloud's influx endpoint: Send Raw Data's series too. */
const ALL_INFLUX = '{__mimir_source__="influx"}'

export interface RecordingRule {
  readonly record: string
  readonly expr: string
}

export interface AlertingRule {
  readonly alert: string
  readonly expr: string
  readonly for?: string
  readonly labels: { readonly severity: 'critical' | 'warning' }
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string }
}

export interface RuleGroup {
  readonly name: string
  readonly rules: ReadonlyArray<RecordingRule | AlertingRule>
}

export interface RuleFile {
  readonly groups: readonly RuleGroup[]
}

/** The docs/alerts.md section (its GitHub anchor) that explains an alert and what to do. */
export const runbookAnchor = (alert: string): string => alert.toLowerCase()

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/
const METRIC_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

function checkConfig(c: RulesConfig): void {
  const problems: string[] = []
  const duration = (path: string, value: string) => {
    if (!DURATION.test(value)) problems.push(`${path} is not a PromQL duration: ${JSON.stringify(value)}`)
  }
  const positive = (path: string, value: number) => {
    if (!Number.isFinite(value) || value <= 0) problems.push(`${path} must be a number above 0: ${value}`)
  }
  const atLeastZero = (path: string, value: number) => {
    if (!Number.isFinite(value) || value < 0) problems.push(`${path} must be a number of at least 0: ${value}`)
  }
  const share = (path: string, value: number) => {
    if (!Number.isFinite(value) || value <= 0 || value >= 1) problems.push(`${path} must be between 0 and 1: ${value}`)
  }
  for (const [role, name] of Object.entries(c.metrics)) {
    if (!METRIC_NAME.test(name))
      problems.push(
        `metrics.${role} must be a Send Metric name as Grafana stores it ([a-zA-Z_][a-zA-Z0-9_]*): ${JSON.stringify(name)}`
      )
  }
  duration('countWindow', c.countWindow)
  if (!/^https?:\/\/[^\s#]+$/.test(c.runbookBaseUrl))
    problems.push(`runbookBaseUrl must be an http(s) URL without a fragment: ${JSON.stringify(c.runbookBaseUrl)}`)
  const windowed = [
    'silent',
    'errorRate',
    'latency',
    'trafficDrop',
    'activeSeries',
    'writesStopped',
    'llmCost',
    'expectedMetrics'
  ] as const
  for (const section of windowed) {
    duration(`${section}.window`, c[section].window)
  }
  for (const section of [...windowed, 'samplesDiscarded'] as const) {
    duration(`${section}.for`, c[section].for)
  }
  duration('silent.lookback', c.silent.lookback)
  duration('writesStopped.lookback', c.writesStopped.lookback)
  duration('trafficDrop.offset', c.trafficDrop.offset)
  share('errorRate.threshold', c.errorRate.threshold)
  positive('errorRate.minMessages', c.errorRate.minMessages)
  share('latency.quantile', c.latency.quantile)
  positive('latency.thresholdMs', c.latency.thresholdMs)
  positive('latency.minSamples', c.latency.minSamples)
  share('trafficDrop.ratio', c.trafficDrop.ratio)
  positive('trafficDrop.minEventsBefore', c.trafficDrop.minEventsBefore)
  positive('activeSeries.limit', c.activeSeries.limit)
  share('activeSeries.ratio', c.activeSeries.ratio)
  positive('llmCost.budgetUsd', c.llmCost.budgetUsd)
  atLeastZero('samplesDiscarded.perSecond', c.samplesDiscarded.perSecond)
  if (problems.length > 0) throw new Error(`the rules configuration is invalid:\n- ${problems.join('\n- ')}`)
}

/** `0.95` → `p95`, `0.5` → `p50`, `0.995` → `p99_5`: a quantile as a rule-name part. */
const quantileName = (q: number): string => `p${String(Math.round(q * 1000) / 10).replace('.', '_')}`

/** The recorded series' names, for the alerts that read them and for the tests. */
export function recordedNames(c: RulesConfig = DEFAULT_RULES_CONFIG) {
  const m = c.metrics
  return {
    count: (metric: string) => `botId_channel_version:${sendMetricSeries(metric)}:count${c.countWindow}`,
    sum: (metric: string) => `botId_channel_version:${sendMetricSeries(metric)}:sum${c.countWindow}`,
    errorRatio: `botId_channel:${m.errors}_per_${m.messages}:ratio${c.errorRate.window}`,
    latencyQuantile: `botId_channel:${sendMetricSeries(m.latency)}:${quantileName(c.latency.quantile)}_${c.latency.window}`,
    latencyMedian: `botId_channel:${sendMetricSeries(m.latency)}:p50_${c.latency.window}`,
    latencyMean: `botId_channel:${sendMetricSeries(m.latency)}:mean${c.latency.window}`
  }
}

const counted = (by: string, metric: string, window: string, offset = '') =>
  `sum by (${by}) (count_over_time(${sendMetricSeries(metric)}[${window}]${offset === '' ? '' : ` offset ${offset}`}))`

const forClause = (d: string): { for?: string } => (/^0+[a-z]+$/.test(d) ? {} : { for: d })

function recordingGroup(c: RulesConfig): RuleGroup {
  const m = c.metrics
  const names = recordedNames(c)
  const eventMetrics = [...new Set([m.messages, m.errors, m.latency, m.flowStarted, m.flowCompleted])]
  const byVersion = 'botId, channel, version'
  const byChannel = 'botId, channel'
  const latency = `${sendMetricSeries(m.latency)}[${c.latency.window}]`
  const rules: RecordingRule[] = [
    ...eventMetrics.map((metric) => ({ record: names.count(metric), expr: counted(byVersion, metric, c.countWindow) })),
    {
      record: names.sum(m.latency),
      expr: `sum by (${byVersion}) (sum_over_time(${sendMetricSeries(m.latency)}[${c.countWindow}]))`
    },
    {
      record: names.errorRatio,
      // `or 0 * messages`: a window with messages and no error is a ratio of 0, not no ratio.
      expr: [
        '(',
        `  ${counted(byChannel, m.errors, c.errorRate.window)}`,
        'or',
        `  0 * ${counted(byChannel, m.messages, c.errorRate.window)}`,
        ')',
        '/',
        `${counted(byChannel, m.messages, c.errorRate.window)}`
      ].join('\n')
    },
    {
      record: names.latencyQuantile,
      expr: `quantile by (${byChannel}) (${c.latency.quantile}, quantile_over_time(${c.latency.quantile}, ${latency}))`
    },
    { record: names.latencyMedian, expr: `quantile by (${byChannel}) (0.5, quantile_over_time(0.5, ${latency}))` },
    {
      record: names.latencyMean,
      expr: `sum by (${byChannel}) (sum_over_time(${latency}))\n/\nsum by (${byChannel}) (count_over_time(${latency}))`
    }
  ]
  return { name: RECORDING_GROUP, rules }
}

function alert(
  c: RulesConfig,
  name: string,
  severity: 'critical' | 'warning',
  expr: string,
  forDuration: string,
  summary: string,
  description: string
): AlertingRule {
  return {
    alert: name,
    expr,
    ...forClause(forDuration),
    labels: { severity },
    annotations: { summary, description, runbook_url: `${c.runbookBaseUrl}#${runbookAnchor(name)}` }
  }
}

const WHERE = '{{ $labels.botId }} on {{ $labels.channel }}'

function alertsGroup(c: RulesConfig): RuleGroup {
  const m = c.metrics
  const names = recordedNames(c)
  const byChannel = 'botId, channel'
  const messages = `${sendMetricSeries(m.messages)}`
  const percent = (share: number) => `${Math.round(share * 10_000) / 100} %`
  const rules: AlertingRule[] = [
    alert(
      c,
      'BotpressBotSilent',
      'critical',
      [
        `group by (${byChannel}) (last_over_time(${messages}[${c.silent.lookback}] offset ${c.silent.window}))`,
        'unless',
        `group by (${byChannel}) (last_over_time(${messages}[${c.silent.window}]))`
      ].join('\n'),
      c.silent.for,
      `Bot ${WHERE} received no message for ${c.silent.window}`,
      `No ${messages} event from bot ${WHERE} for ${c.silent.window}, after traffic in the ${c.silent.lookback} before. ` +
        'Check that the bot is published and its channel connected (send it a message), then the Botpress logs for card errors. ' +
        'If every bot went quiet at once, see BotpressWritesStopped instead.'
    ),
    alert(
      c,
      'BotpressHighErrorRate',
      'warning',
      `${names.errorRatio} > ${c.errorRate.threshold}\nand on (${byChannel})\n${counted(byChannel, m.messages, c.errorRate.window)} >= ${c.errorRate.minMessages}`,
      c.errorRate.for,
      `Bot ${WHERE}: {{ $value | humanizePercentage }} of messages end in an error`,
      `${m.errors} events per ${m.messages} event over ${c.errorRate.window} are above ${percent(c.errorRate.threshold)} ` +
        `for ${c.errorRate.for}. Open the dashboard filtered on this bot and channel, compare bot versions ` +
        '(a new release is the usual cause), and read the failing flows in the Botpress logs.'
    ),
    alert(
      c,
      'BotpressSlowResponses',
      'warning',
      `${names.latencyQuantile} > ${c.latency.thresholdMs}\nand on (${byChannel})\n${counted(byChannel, m.latency, c.latency.window)} >= ${c.latency.minSamples}`,
      c.latency.for,
      `Bot ${WHERE}: ${quantileName(c.latency.quantile)} response time is {{ $value | printf "%.0f" }} ms`,
      `The ${quantileName(c.latency.quantile)} of ${m.latency} over ${c.latency.window} is above ${c.latency.thresholdMs} ms ` +
        `for ${c.latency.for}. Look for a slow step: an LLM call, a knowledge-base search, an external API; ` +
        'compare bot versions on the dashboard.'
    ),
    alert(
      c,
      'BotpressTrafficDrop',
      'warning',
      [
        '(',
        `    ${counted(byChannel, m.messages, c.trafficDrop.window)}`,
        '  or',
        `    0 * ${counted(byChannel, m.messages, c.trafficDrop.window, c.trafficDrop.offset)}`,
        ')',
        `/ ${counted(byChannel, m.messages, c.trafficDrop.window, c.trafficDrop.offset)}`,
        `< ${c.trafficDrop.ratio}`,
        `and on (${byChannel})`,
        `${counted(byChannel, m.messages, c.trafficDrop.window, c.trafficDrop.offset)} >= ${c.trafficDrop.minEventsBefore}`
      ].join('\n'),
      c.trafficDrop.for,
      `Bot ${WHERE}: messages down to {{ $value | humanizePercentage }} of ${c.trafficDrop.offset} ago`,
      `${messages} events in the last ${c.trafficDrop.window} are below ${percent(c.trafficDrop.ratio)} of the same ` +
        `${c.trafficDrop.window} ${c.trafficDrop.offset} earlier. Check the channel's connection and whatever sends users to the bot ` +
        '(a website widget, a campaign, a WhatsApp number); a holiday explains it too.'
    ),
    alert(
      c,
      'BotpressActiveSeriesNearLimit',
      'warning',
      `count(\n  last_over_time(${ALL_CARD_METRICS}[${c.activeSeries.window}])\nor\n  last_over_time(${ALL_INFLUX}[${c.activeSeries.window}])\n) > ${c.activeSeries.ratio * c.activeSeries.limit}`,
      c.activeSeries.for,
      `{{ $value }} active series from the Botpress cards, the cap is ${c.activeSeries.limit}`,
      `The cards' series active in the last ${c.activeSeries.window} are above ${percent(c.activeSeries.ratio)} of the stack's ` +
        `cap of ${c.activeSeries.limit}; past the cap Grafana Cloud drops new series without telling the bot. ` +
        'Turn off "Label events with conversation and user IDs" in the integration\'s configuration, keep extra labels ' +
        "to few values, or raise the stack's limit."
    ),
    alert(
      c,
      'BotpressWritesStopped',
      'critical',
      `group(last_over_time(${ALL_CARD_METRICS}[${c.writesStopped.lookback}] offset ${c.writesStopped.window}))\nunless\ngroup(last_over_time(${ALL_CARD_METRICS}[${c.writesStopped.window}]))`,
      c.writesStopped.for,
      `No Botpress card wrote anything for ${c.writesStopped.window}`,
      `No *_metric sample from any bot for ${c.writesStopped.window}, after samples in the ${c.writesStopped.lookback} before: ` +
        'the writes are failing, or every bot stopped. Read the card errors in the Botpress logs: a 401/403 means the API key ' +
        'was revoked or lost metrics:write (update it in the integration), a 404 a wrong endpoint URL, 429 a rate or series limit.'
    ),
    expectedMetricMissing(c),
    alert(
      c,
      'BotpressLlmCostOverBudget',
      'warning',
      `sum by (botId) (sum_over_time(${LLM_SERIES.cost}[${c.llmCost.window}])) > ${c.llmCost.budgetUsd}`,
      c.llmCost.for,
      `Bot {{ $labels.botId }} spent {{ $value | printf "%.2f" }} USD on LLM calls in ${c.llmCost.window}`,
      `The cost of the LLM calls the Send LLM Usage card recorded for this bot over the last ${c.llmCost.window} is above ` +
        `the budget of ${c.llmCost.budgetUsd} USD. Open the dashboard's LLM usage row on this bot: which model, channel or ` +
        'version spends. A release with a bigger model or longer prompts is the usual cause, a flow calling the LLM in a loop another.'
    )
  ]
  return { name: ALERTS_GROUP, rules }
}

/**
 * The Send Metric names every bot with traffic writes and the alerts read: one event per message,
 * one per answer. Errors are left out (a bot without errors writes none), and so are the flows
 * (the dashboard's funnel, which no alert reads).
 */
export const expectedAlertMetrics = (c: RulesConfig = DEFAULT_RULES_CONFIG): string[] => [
  ...new Set([c.metrics.messages, c.metrics.latency])
]

/**
 * A bot that writes Send Metric events but none of an expected name: its cards (or hooks) are
 * named otherwise, and the alerts that read the name can never fire for it. One alert per bot and
 * missing name, the name in the `metric` label.
 */
function expectedMetricMissing(c: RulesConfig): AlertingRule {
  const m = c.metrics
  const window = c.expectedMetrics.window
  const wrote = (selector: string) => `group by (botId) (last_over_time(${selector}[${window}]))`
  const expr = expectedAlertMetrics(c)
    .map((name) =>
      [
        'label_replace(',
        `  ${wrote(ALL_CARD_METRICS)}`,
        '  unless',
        `  ${wrote(sendMetricSeries(name))},`,
        `  "metric", "${name}", "", ""`,
        ')'
      ].join('\n')
    )
    .join('\nor\n')
  return alert(
    c,
    'BotpressExpectedMetricMissing',
    'warning',
    expr,
    c.expectedMetrics.for,
    'Bot {{ $labels.botId }} sends Send Metric events, but none named {{ $labels.metric }}',
    `Bot {{ $labels.botId }} wrote *_metric events in the last ${window}, none of them {{ $labels.metric }}_metric. ` +
      `The alerts read ${m.messages} (silence, error rate, traffic drop) and ${m.latency} (slow responses): ` +
      'without it they can never fire for this bot. Name the Send Metric card or the hook that records it ' +
      '{{ $labels.metric }} exactly, or set your own names in rules/config.ts (metrics) and regenerate the rules and the dashboard.'
  )
}

/** For Grafana-managed rules on the `grafanacloud-usage` data source, which the stack's own ruler cannot query. */
function usageGroup(c: RulesConfig): RuleGroup {
  return {
    name: USAGE_GROUP,
    rules: [
      alert(
        c,
        'BotpressSamplesDiscarded',
        'warning',
        `sum by (reason) (grafanacloud_instance_samples_discarded_per_second) > ${c.samplesDiscarded.perSecond}`,
        c.samplesDiscarded.for,
        'Grafana Cloud discards {{ $value | humanize }} samples/s ({{ $labels.reason }})',
        'Grafana Cloud accepted writes but dropped samples, for the reason in the label reason: per_user_series_limit ' +
          '(the active-series cap: see BotpressActiveSeriesNearLimit), sample-out-of-order or sample-too-old (clock or ' +
          'replay), rate limits. The cards cannot see this: their writes succeed. Fix the cause the reason names.'
      )
    ]
  }
}

export function buildRules(c: RulesConfig = DEFAULT_RULES_CONFIG): RuleFile {
  checkConfig(c)
  return { groups: [recordingGroup(c), alertsGroup(c)] }
}

export function buildUsageRules(c: RulesConfig = DEFAULT_RULES_CONFIG): RuleFile {
  checkConfig(c)
  return { groups: [usageGroup(c)] }
}

const HEADER = (what: string) =>
  `# Generated by rules/build.ts from rules/config.ts (npm run rules): edit those, not this file.\n# ${what}\n`

/** A rule file's text: block style, two-space indent, no line folding, a trailing newline. */
export function ruleFileYaml(file: RuleFile, what: string): string {
  return HEADER(what) + stringify(file, { indent: 2, lineWidth: 0, indentSeq: true })
}

export function rulesYaml(c: RulesConfig = DEFAULT_RULES_CONFIG): string {
  return ruleFileYaml(
    buildRules(c),
    "For the stack's Prometheus ruler (scripts/load-rules.sh), Mimir, Prometheus or vmalert."
  )
}

export function usageRulesYaml(c: RulesConfig = DEFAULT_RULES_CONFIG): string {
  return ruleFileYaml(
    buildUsageRules(c),
    'Import as Grafana-managed rules on the grafanacloud-usage data source (see docs/alerts.md).'
  )
}

if (require.main === module) {
  process.exitCode = writeOrCheck(
    process.argv.slice(2),
    [
      { path: RULES_PATH, text: rulesYaml() },
      { path: USAGE_RULES_PATH, text: usageRulesYaml() }
    ],
    { builder: 'rules/build.ts', command: 'npm run rules' }
  )
}
