/**
 * Every PromQL and LogQL query of the "Botpress on Grafana Cloud" dashboard, as data.
 *
 * One source of truth: dashboards/build.ts builds the panels from PANEL_QUERIES and
 * LOG_PANEL_QUERIES and the template variables from VARIABLE_QUERIES; the tests substitute the
 * variables with substitute() and run each PromQL query against a real VictoriaMetrics, and
 * parse each LogQL query, substituted with substituteLogQL(), with Grafana's LogQL grammar.
 *
 * The data: the Send Metric card stores one sample per event in the series `<name>_metric`
 * (InfluxDB line protocol: measurement `<name>`, field `metric`), value 1 by default or the
 * number the bot builder supplies (e.g. a latency in ms), labelled `botId`, `channel`,
 * `version`, optionally `conversationId` and `userId`, plus the builder's own tags, and
 * `instance`: the integration instance that wrote it, so one metric's samples are spread over
 * one series per instance (and per conversation). Samples are events, not counters: "how many
 * events" is count_over_time() summed over those series, never rate().
 *
 * The Send LLM Usage card stores one sample per LLM call in `gen_ai_client_operations` (1),
 * `gen_ai_client_cost_usd` and `gen_ai_client_operation_duration_seconds`, and one per call
 * and token type in `gen_ai_client_token_usage` (label `gen_ai_token_type`), with the same
 * built-in labels plus `gen_ai_request_model`, `gen_ai_provider_name` and the like. Totals are
 * sum_over_time() summed over the instances, as for events.
 *
 * A PromQL caveat that shapes the "top metrics" panels: every range function except
 * last_over_time drops `__name__`, so count_over_time({__name__=~".+_metric"}[…]) fails
 * with "vector cannot contain metrics with the same labelset" (Prometheus, Mimir) or
 * "duplicate output timeseries" (VictoriaMetrics) as soon as two metrics share their labels,
 * which they do (same bot, channel, conversation). Event totals per metric are therefore
 * counted one metric at a time (a panel repeated over the hidden `each_metric` variable);
 * the sorted table counts series per metric with last_over_time, which keeps the name.
 */
import { DEFAULT_RULES_CONFIG } from '../rules/config'
import { SERVICE_NAME } from '../src/loki'
import {
  LLM_LABELS,
  LLM_SERIES,
  SEND_METRIC_SERIES_PATTERN,
  sendMetricSeries,
  TOKEN_TYPE_LABEL
} from '../src/series-names'

/** Label filter every panel query carries: the bot, channel and version variables. */
export const FILTER = 'botId=~"$bot", channel=~"$channel", version=~"$version"'

/** Matches every series the Send Metric card produces. */
export const ALL_METRICS = `__name__=~"${SEND_METRIC_SERIES_PATTERN}"`

/** Matches a series of every call of either card, for the bot, channel and version lists. */
export const LABELLED_SERIES = `__name__=~"${SEND_METRIC_SERIES_PATTERN}|${LLM_SERIES.operations}"`

/** How Grafana must run a query: over the time range (one point per $__interval) or once at its end. */
export type QueryKind = 'range' | 'instant'

export interface PanelQuery {
  /** Panel title exactly as in the dashboard JSON (Grafana interpolates variables in it). */
  readonly panel: string
  readonly refId: string
  /** PromQL with Grafana variables ($metric, $bot, $__interval, ...). */
  readonly expr: string
  readonly kind: QueryKind
  /** Grafana's Prometheus result format: time series, or a table (one row per series). */
  readonly format: 'time_series' | 'table'
  readonly legendFormat?: string
  /**
   * The label every result series (or table row) carries, e.g. 'channel'; undefined: the
   * result is one series without labels. For the test that checks results on real data.
   */
  readonly seriesLabel?: 'channel' | 'version' | '__name__' | 'gen_ai_request_model' | 'metric'
  /** What the result holds, for the reader and for the test that checks it against real data. */
  readonly returns: string
}

const count = (selector: string, window: string) => `count_over_time(${selector}[${window}])`
const sel = (metric: string) => `${metric}{${FILTER}}`

const TITLES = {
  expectedMetrics: 'Expected metrics: events in the time range',
  eventsByChannel: 'Events over time by channel: $metric',
  eventsByVersionOverTime: 'Events over time by bot version: $metric',
  eventsByVersionTotal: 'Events by bot version (time range total): $metric',
  quantiles: 'Value p50 / p95 / mean: $metric',
  topMetrics: 'Top metrics: series per metric (time range)',
  eventsPerMetric: 'Events: $each_metric',
  funnelFrom: 'Funnel from: $funnel_from',
  funnelTo: 'Funnel to: $funnel_to',
  conversion: 'Conversion ($funnel_to / $funnel_from)',
  dropOff: 'Drop-off',
  llmTokens: 'LLM tokens over time by model',
  llmCost: 'LLM cost over time by model (USD)',
  llmCostByChannel: 'LLM cost by channel (time range total, USD)',
  llmCostByVersion: 'LLM cost by bot version (time range total, USD)',
  llmLatency: 'LLM latency p95 by model (seconds)',
  logTrail: 'Conversation trail: $conversation',
  logErrors: 'Errors with their messages',
  logVolume: 'Log volume by level'
} as const

export const PANEL_TITLES = TITLES

const byModel = (expr: string) => `sum by (${LLM_LABELS.model}) (${expr})`
const tokens = (type: string) =>
  byModel(`sum_over_time(${LLM_SERIES.tokens}{${TOKEN_TYPE_LABEL}="${type}", ${FILTER}}[$__interval])`)
const llmCostTotal = (label: string) =>
  `sort_desc(sum by (${label}) (sum_over_time(${sel(LLM_SERIES.cost)}[$__range])))`

const fromTotal = `sum(${count(sel('$funnel_from'), '$__range')})`
const toTotal = `sum(${count(sel('$funnel_to'), '$__range')})`

/**
 * The Send Metric names the alerts and the dashboard's defaults read (rules/config.ts), each once:
 * the rows of the "Expected metrics" panel.
 */
export const EXPECTED_METRICS: readonly string[] = [...new Set(Object.values(DEFAULT_RULES_CONFIG.metrics))]

/** One row per expected name: its events over the time range, 0 when it has none. */
const expectedMetricEvents = EXPECTED_METRICS.map(
  (name) =>
    `label_replace(sum(${count(sel(sendMetricSeries(name)), '$__range')}) or vector(0), "metric", "${name}", "", "")`
).join('\nor\n')

export const PANEL_QUERIES: readonly PanelQuery[] = [
  {
    panel: TITLES.expectedMetrics,
    refId: 'A',
    expr: expectedMetricEvents,
    kind: 'instant',
    format: 'table',
    seriesLabel: 'metric',
    returns:
      'one row per Send Metric name the alerts and the dashboard read (rules/config.ts): its events over the ' +
      'time range, 0 when none arrived under that exact name'
  },
  {
    panel: TITLES.eventsByChannel,
    refId: 'A',
    expr: `sum by (channel) (${count(sel('$metric'), '$__interval')})`,
    kind: 'range',
    format: 'time_series',
    legendFormat: '{{channel}}',
    seriesLabel: 'channel',
    returns: 'one series per channel: events of $metric in each $__interval'
  },
  {
    panel: TITLES.eventsByVersionOverTime,
    refId: 'A',
    expr: `sum by (version) (${count(sel('$metric'), '$__interval')})`,
    kind: 'range',
    format: 'time_series',
    legendFormat: '{{version}}',
    seriesLabel: 'version',
    returns: 'one series per bot version: events of $metric in each $__interval'
  },
  {
    panel: TITLES.eventsByVersionTotal,
    refId: 'A',
    expr: `sort_desc(sum by (version) (${count(sel('$metric'), '$__range')}))`,
    kind: 'instant',
    format: 'table',
    seriesLabel: 'version',
    returns: 'one row per bot version: events of $metric over the whole time range, largest first'
  },
  {
    panel: TITLES.quantiles,
    refId: 'A',
    expr: `quantile(0.5, quantile_over_time(0.5, ${sel('$metric')}[$__interval]))`,
    kind: 'range',
    format: 'time_series',
    legendFormat: 'p50',
    returns:
      'median of the per-series medians of the values of $metric in each $__interval ' +
      '(series are per instance and conversation: exact when one series holds the interval)'
  },
  {
    panel: TITLES.quantiles,
    refId: 'B',
    expr: `quantile(0.95, quantile_over_time(0.95, ${sel('$metric')}[$__interval]))`,
    kind: 'range',
    format: 'time_series',
    legendFormat: 'p95',
    returns: '95th percentile of the per-series 95th percentiles of $metric in each $__interval'
  },
  {
    panel: TITLES.quantiles,
    refId: 'C',
    expr: `sum(sum_over_time(${sel('$metric')}[$__interval])) / sum(${count(sel('$metric'), '$__interval')})`,
    kind: 'range',
    format: 'time_series',
    legendFormat: 'mean',
    returns: 'exact mean of all values of $metric in each $__interval'
  },
  {
    panel: TITLES.topMetrics,
    refId: 'A',
    expr: `sort_desc(count by (__name__) (last_over_time({${ALL_METRICS}, ${FILTER}}[$__range])))`,
    kind: 'instant',
    format: 'table',
    seriesLabel: '__name__',
    returns:
      'one row per metric name: how many series (label combinations × instances; with ' +
      'conversation IDs on, × conversations) it had during the time range, largest first'
  },
  {
    panel: TITLES.eventsPerMetric,
    refId: 'A',
    expr: `sum(${count(`{__name__=~"$each_metric", ${FILTER}}`, '$__range')})`,
    kind: 'instant',
    format: 'time_series',
    returns: 'total events of one metric over the time range (the panel repeats once per metric name)'
  },
  {
    panel: TITLES.funnelFrom,
    refId: 'A',
    expr: fromTotal,
    kind: 'instant',
    format: 'time_series',
    returns: 'events of $funnel_from over the time range'
  },
  {
    panel: TITLES.funnelTo,
    refId: 'A',
    expr: toTotal,
    kind: 'instant',
    format: 'time_series',
    returns: 'events of $funnel_to over the time range'
  },
  {
    panel: TITLES.conversion,
    refId: 'A',
    expr: `100 * ${toTotal} / ${fromTotal}`,
    kind: 'instant',
    format: 'time_series',
    returns: 'events of $funnel_to per 100 events of $funnel_from, in percent'
  },
  {
    panel: TITLES.dropOff,
    refId: 'A',
    expr: `100 * (1 - ${toTotal} / ${fromTotal})`,
    kind: 'instant',
    format: 'time_series',
    returns: 'percent of $funnel_from events not followed by a $funnel_to event'
  },
  {
    panel: TITLES.llmTokens,
    refId: 'A',
    expr: tokens('input'),
    kind: 'range',
    format: 'time_series',
    legendFormat: '{{gen_ai_request_model}} input',
    seriesLabel: 'gen_ai_request_model',
    returns: 'one series per model: input tokens of the LLM calls in each $__interval'
  },
  {
    panel: TITLES.llmTokens,
    refId: 'B',
    expr: tokens('output'),
    kind: 'range',
    format: 'time_series',
    legendFormat: '{{gen_ai_request_model}} output',
    seriesLabel: 'gen_ai_request_model',
    returns: 'one series per model: output tokens of the LLM calls in each $__interval'
  },
  {
    panel: TITLES.llmCost,
    refId: 'A',
    expr: byModel(`sum_over_time(${sel(LLM_SERIES.cost)}[$__interval])`),
    kind: 'range',
    format: 'time_series',
    legendFormat: '{{gen_ai_request_model}}',
    seriesLabel: 'gen_ai_request_model',
    returns: 'one series per model: the cost of its calls in each $__interval, in US dollars'
  },
  {
    panel: TITLES.llmCostByChannel,
    refId: 'A',
    expr: llmCostTotal('channel'),
    kind: 'instant',
    format: 'table',
    seriesLabel: 'channel',
    returns: 'one row per channel: the cost of the LLM calls over the whole time range, largest first'
  },
  {
    panel: TITLES.llmCostByVersion,
    refId: 'A',
    expr: llmCostTotal('version'),
    kind: 'instant',
    format: 'table',
    seriesLabel: 'version',
    returns: 'one row per bot version: the cost of the LLM calls over the whole time range, largest first'
  },
  {
    panel: TITLES.llmLatency,
    refId: 'A',
    expr: `quantile by (${LLM_LABELS.model}) (0.95, quantile_over_time(0.95, ${sel(LLM_SERIES.duration)}[$__interval]))`,
    kind: 'range',
    format: 'time_series',
    legendFormat: '{{gen_ai_request_model}}',
    seriesLabel: 'gen_ai_request_model',
    returns:
      'one series per model: the 95th percentile of the per-series 95th percentiles of the call durations in each ' +
      '$__interval (series are per instance and conversation: exact when one series holds the interval)'
  }
]

function ofPanel<Q extends { readonly panel: string }>(queries: readonly Q[], panel: string): Q[] {
  const found = queries.filter((q) => q.panel === panel)
  if (found.length === 0) throw new Error(`no queries for panel ${JSON.stringify(panel)}`)
  return found
}

/** The queries of one panel, in refId order. Throws for an unknown title. */
export function queriesFor(panel: string): PanelQuery[] {
  return ofPanel(PANEL_QUERIES, panel)
}

export interface ResolvedQuery extends PanelQuery {
  /** expr with every variable substituted: ready for /api/v1/query (instant) or /api/v1/query_range (range, step = interval). */
  readonly promql: string
}

/** Every panel query with the variables substituted, for running against a real Prometheus-compatible store. */
export function resolvedQueries(vars: SubstituteVars): ResolvedQuery[] {
  return PANEL_QUERIES.map((q) => ({ ...q, promql: substitute(q.expr, vars) }))
}

// ---------------------------------------------------------------------------------------------
// Logs: the LogQL queries of the Logs row, on the Loki data source
//
// Every line the integration writes (Send Log, and with "Also log every event" the trail of
// Send Metric and Send LLM Usage) is in a stream labelled service_name="botpress", botId,
// channel and version; the line is JSON ({"level", "message", "instance"}), and the
// conversation and user IDs, the card, the event and the attributes are structured metadata,
// which a label filter after the selector reads without a parser. Loki derives detected_level
// from the line's level. As for samples, lines are events: counted with count_over_time.

/** Stream selector of every log query: the integration's lines of the selected bots. */
const LOG_STREAM = `service_name="${SERVICE_NAME}", botId=~"$bot"`

export interface LogPanelQuery {
  /** Panel title exactly as in the dashboard JSON. */
  readonly panel: string
  readonly refId: string
  /** LogQL with Grafana variables ($bot, $channel, $conversation, $__interval). */
  readonly expr: string
  /** `logs`: a log query, its lines shown in a logs panel; `range`: a metric query, one point per $__interval. */
  readonly kind: 'logs' | 'range'
  /** Log queries: which lines Loki returns first when there are more than the panel's limit. */
  readonly direction?: 'forward' | 'backward'
  readonly legendFormat?: string
  /** What the result holds, for the reader. */
  readonly returns: string
}

export const LOG_PANEL_QUERIES: readonly LogPanelQuery[] = [
  {
    panel: TITLES.logTrail,
    refId: 'A',
    expr: `{${LOG_STREAM}} | conversationId="$conversation"`,
    kind: 'logs',
    direction: 'forward',
    returns:
      'every line of the conversation $conversation, oldest first: its Send Log lines and, with "Also log every ' +
      'event" on, each Send Metric and Send LLM Usage event'
  },
  {
    panel: TITLES.logErrors,
    refId: 'A',
    expr: `{${LOG_STREAM}, channel=~"$channel"} | json | level=~"error|critical"`,
    kind: 'logs',
    direction: 'backward',
    returns: 'the lines of level error or critical, newest first, with their message and metadata'
  },
  {
    panel: TITLES.logVolume,
    refId: 'A',
    expr: `sum by (detected_level) (count_over_time({${LOG_STREAM}, channel=~"$channel"} [$__interval]))`,
    kind: 'range',
    legendFormat: '{{detected_level}}',
    returns: 'one series per level: the lines written in each $__interval'
  }
]

/** The log queries of one panel, in refId order. Throws for an unknown title. */
export function logQueriesFor(panel: string): LogPanelQuery[] {
  return ofPanel(LOG_PANEL_QUERIES, panel)
}

export interface VariableQuery {
  readonly name: string
  readonly label: string
  /** Grafana `label_values(<selector>, <label>)` on the Prometheus data source. */
  readonly query: string
  readonly multi: boolean
  /** With includeAll, "All" becomes allValue (a regex); undefined: Grafana joins every value. */
  readonly includeAll: boolean
  readonly allValue?: string
  readonly hidden?: boolean
  readonly defaultValue?: string
  readonly description: string
}

export const VARIABLE_QUERIES: readonly VariableQuery[] = [
  {
    name: 'metric',
    label: 'Metric',
    query: `label_values({${ALL_METRICS}}, __name__)`,
    multi: false,
    includeAll: false,
    defaultValue: sendMetricSeries(DEFAULT_RULES_CONFIG.metrics.flowStarted),
    description: 'The series the time series panels show (one Send Metric name plus "_metric").'
  },
  {
    name: 'bot',
    label: 'Bot',
    query: `label_values({${LABELLED_SERIES}}, botId)`,
    multi: true,
    includeAll: true,
    allValue: '.*',
    description: 'Botpress bot ID (label botId).'
  },
  {
    name: 'channel',
    label: 'Channel',
    query: `label_values({${LABELLED_SERIES}, botId=~"$bot"}, channel)`,
    multi: true,
    includeAll: true,
    allValue: '.*',
    description: 'Channel the event came from (webchat, whatsapp, ...).'
  },
  {
    name: 'version',
    label: 'Bot version',
    query: `label_values({${LABELLED_SERIES}, botId=~"$bot", channel=~"$channel"}, version)`,
    multi: true,
    includeAll: true,
    allValue: '.*',
    description: 'Bot version (label version), to compare a release with the last one.'
  },
  {
    name: 'funnel_from',
    label: 'Funnel from',
    query: `label_values({${ALL_METRICS}}, __name__)`,
    multi: false,
    includeAll: false,
    defaultValue: sendMetricSeries(DEFAULT_RULES_CONFIG.metrics.flowStarted),
    description: `First step of the funnel (e.g. ${sendMetricSeries(DEFAULT_RULES_CONFIG.metrics.flowStarted)}).`
  },
  {
    name: 'funnel_to',
    label: 'Funnel to',
    query: `label_values({${ALL_METRICS}}, __name__)`,
    multi: false,
    includeAll: false,
    defaultValue: sendMetricSeries(DEFAULT_RULES_CONFIG.metrics.flowCompleted),
    description: `Step the funnel should reach (e.g. ${sendMetricSeries(DEFAULT_RULES_CONFIG.metrics.flowCompleted)}).`
  },
  {
    name: 'each_metric',
    label: 'Each metric',
    query: `label_values({${ALL_METRICS}, ${FILTER}}, __name__)`,
    multi: true,
    includeAll: true,
    hidden: true,
    description: 'Hidden: every metric name, for the panel repeated once per metric.'
  }
]

// ---------------------------------------------------------------------------------------------
// Variable substitution, as Grafana's Prometheus data source does it

/** Grafana's internal value of a selected "All" option. `'All'` is accepted as well. */
export const ALL = '$__all'

/** A multi-value variable's selection: one value, several, or ALL. */
export type Selection = string | readonly string[]

export interface SubstituteVars {
  metric: string
  bot: Selection
  channel: Selection
  version: Selection
  funnel_from: string
  funnel_to: string
  /** $__interval: a PromQL duration ("1m") or a number of seconds. */
  interval: string | number
  /** $__range: a PromQL duration or a number of seconds (Grafana writes e.g. "3600s"). */
  range: string | number
  /** The repeated panel's value of $each_metric; defaults to `metric`. */
  each_metric?: string
}

/** Grafana's prometheusRegularEscape: single-value variables (no multi, no All). */
function regularEscape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'")
}

/** Grafana's lokiRegularEscape: single-value variables of a Loki query (backslashes kept as they are). */
function lokiRegularEscape(value: string): string {
  return value.replace(/'/g, "\\\\'")
}

/**
 * Grafana's prometheusSpecialRegexEscape: values of multi/All variables, used inside =~ "...".
 * Grafana's lokiSpecialRegexEscape writes every value the same way.
 */
function regexEscape(value: string): string {
  return value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&')
}

function isAll(selection: Selection): boolean {
  return typeof selection === 'string' && (selection === ALL || selection === 'All')
}

function multiValue(selection: Selection, allValue: string | undefined, every: readonly string[] = []): string {
  if (isAll(selection)) {
    if (allValue !== undefined) return allValue
    selection = every
  }
  const values = typeof selection === 'string' ? [selection] : [...selection]
  if (values.length === 0) throw new Error('a multi-value variable needs at least one value (or ALL)')
  const escaped = values.map(regexEscape)
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`
}

/** PromQL duration from seconds or a duration string ("1m", "90s"). */
function duration(value: string | number, what: string): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${what} must be > 0 seconds`)
    return `${Math.round(value)}s`
  }
  if (!/^(\d+(ms|s|m|h|d|w|y))+$/.test(value)) throw new Error(`${what} is not a PromQL duration: ${value}`)
  return value
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000
}
function durationMs(d: string): number {
  let total = 0
  for (const m of d.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!
  return total
}

/**
 * Replaces `$name`, `${name}` and `[[name]]` as Grafana does: single-value variables escaped
 * with `escape`, multi-value variables regex-escaped and joined as `(a|b)`, "All" as the
 * variable's allValue (`.*`); `$__interval`, `$__interval_ms`, `$__rate_interval`, `$__range`,
 * `$__range_s`, `$__range_ms` from `interval` and `range`. Unknown variables are left as they
 * are, so a leftover `$` shows a query this function cannot complete.
 */
function interpolate(
  expr: string,
  vars: { interval: string | number; range: string | number },
  single: Record<string, string>,
  multi: Record<string, Selection>,
  escape: (value: string) => string
): string {
  const interval = duration(vars.interval, 'interval')
  const range = duration(vars.range, 'range')
  const rangeMs = durationMs(range)
  const byName = new Map(VARIABLE_QUERIES.map((v) => [v.name, v]))
  const values: Record<string, string> = {
    __interval: interval,
    __interval_ms: String(durationMs(interval)),
    // Grafana: max($__interval + scrape interval, 4 * scrape interval); the scrape interval is
    // unknown here, so the interval itself is the closest stand-in.
    __rate_interval: interval,
    __range: `${Math.round(rangeMs / 1000)}s`,
    __range_s: String(Math.round(rangeMs / 1000)),
    __range_ms: String(rangeMs)
  }
  const lookup = (name: string): string | undefined => {
    if (name in values) return values[name]
    if (name in single) return escape(single[name]!)
    if (name in multi) return multiValue(multi[name]!, byName.get(name)?.allValue)
    return undefined
  }
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a?: string, b?: string, c?: string) => {
    return lookup((a ?? b ?? c)!) ?? whole
  })
}

/** Replaces the dashboard's variables in a PromQL query the way Grafana's Prometheus data source does. */
export function substitute(expr: string, vars: SubstituteVars): string {
  return interpolate(
    expr,
    vars,
    { metric: vars.metric, funnel_from: vars.funnel_from, funnel_to: vars.funnel_to },
    {
      bot: vars.bot,
      channel: vars.channel,
      version: vars.version,
      // In each repeated panel Grafana sets the repeat variable to one value.
      each_metric: vars.each_metric ?? vars.metric
    },
    regularEscape
  )
}

/** The variables a LogQL query of the dashboard (or of the docs) can use. */
export interface LogSubstituteVars {
  bot: Selection
  channel: Selection
  /** The conversation text box: one conversation ID. */
  conversation: string
  interval: string | number
  range: string | number
}

/**
 * Replaces the dashboard's variables in a LogQL query the way Grafana's Loki data source does
 * (its backend replaces $__interval and $__range with the same values).
 */
export function substituteLogQL(expr: string, vars: LogSubstituteVars): string {
  return interpolate(
    expr,
    vars,
    { conversation: vars.conversation },
    { bot: vars.bot, channel: vars.channel },
    lokiRegularEscape
  )
}
