/**
 * Builds the Grafana dashboard for the series the integration's cards produce, with
 * @grafana/grafana-foundation-sdk, from the queries in ./queries.ts.
 *
 *   npm run dashboard          writes dashboards/botpress-grafana.json
 *   npm run check:dashboard    exits 1 when the committed JSON differs from what this builds
 */
import * as barchart from '@grafana/grafana-foundation-sdk/barchart'
import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as logs from '@grafana/grafana-foundation-sdk/logs'
import * as loki from '@grafana/grafana-foundation-sdk/loki'
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus'
import * as stat from '@grafana/grafana-foundation-sdk/stat'
import * as table from '@grafana/grafana-foundation-sdk/table'
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { join } from 'node:path'
import { writeOrCheck } from '../dev/generated-files'
import { RULES_NAMESPACE } from '../rules/build'
import { DEFAULT_RULES_CONFIG } from '../rules/config'
import {
  LOG_PANEL_QUERIES,
  PANEL_QUERIES,
  PANEL_TITLES,
  VARIABLE_QUERIES,
  logQueriesFor,
  queriesFor,
  type LogPanelQuery,
  type PanelQuery,
  type VariableQuery
} from './queries'

export const DASHBOARD_PATH = join(__dirname, 'botpress-grafana.json')
export const DASHBOARD_UID = 'botpress-grafana-cloud'

/** Every metrics panel and query reads from the data source chosen in the `datasource` variable. */
export const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' }

/** Every logs panel and query reads from the Loki data source chosen in the `logs_datasource` variable. */
export const LOGS_DATASOURCE: common.DataSourceRef = { type: 'loki', uid: '${logs_datasource}' }

function target(q: PanelQuery): prometheus.DataqueryBuilder {
  const t = new prometheus.DataqueryBuilder()
    .datasource(DATASOURCE)
    .refId(q.refId)
    .expr(q.expr)
    .editorMode(prometheus.QueryEditorMode.Code)
    .format(q.format === 'table' ? prometheus.PromQueryFormat.Table : prometheus.PromQueryFormat.TimeSeries)
  if (q.kind === 'instant') t.instant()
  else t.range()
  if (q.legendFormat !== undefined) t.legendFormat(q.legendFormat)
  return t
}

function logTarget(q: LogPanelQuery): loki.DataqueryBuilder {
  const t = new loki.DataqueryBuilder()
    .datasource(LOGS_DATASOURCE)
    .refId(q.refId)
    .expr(q.expr)
    .editorMode(loki.QueryEditorMode.Code)
    .queryType(loki.LokiQueryType.Range)
  if (q.direction !== undefined) {
    t.direction(q.direction === 'forward' ? loki.LokiQueryDirection.Forward : loki.LokiQueryDirection.Backward)
  }
  if (q.legendFormat !== undefined) t.legendFormat(q.legendFormat)
  return t
}

interface QueriedPanel<B> {
  title(t: string): B
  datasource(d: common.DataSourceRef): B
  description(d: string): B
  withTarget(t: prometheus.DataqueryBuilder | loki.DataqueryBuilder): B
}

/** Sets title, data source, description (from the queries) and targets, in refId order. */
function described<B extends QueriedPanel<B>, Q extends { refId: string; legendFormat?: string; returns: string }>(
  panel: B,
  title: string,
  intro: string,
  source: common.DataSourceRef,
  queries: readonly Q[],
  toTarget: (q: Q) => prometheus.DataqueryBuilder | loki.DataqueryBuilder
): B {
  panel.title(title).datasource(source)
  const returns = queries.map((q) => (queries.length > 1 ? `${q.legendFormat ?? q.refId}: ${q.returns}` : q.returns))
  panel.description([intro, ...returns].filter((s) => s !== '').join('\n\n'))
  for (const q of queries) panel.withTarget(toTarget(q))
  return panel
}

/** A metrics panel: its PromQL queries from PANEL_QUERIES, on the Prometheus data source. */
function withQueries<B extends QueriedPanel<B>>(panel: B, title: string, intro: string): B {
  return described(panel, title, intro, DATASOURCE, queriesFor(title), target)
}

/** A logs row panel: its LogQL queries from LOG_PANEL_QUERIES, on the Loki data source. */
function withLogQueries<B extends QueriedPanel<B>>(panel: B, title: string, intro: string): B {
  return described(panel, title, intro, LOGS_DATASOURCE, logQueriesFor(title), logTarget)
}

const legend = () =>
  new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.Table)
    .placement(common.LegendPlacement.Bottom)
    .calcs(['sum', 'max'])

const tooltip = () =>
  new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending)

const thresholds = (steps: Array<[number | null, string]>) =>
  new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })))

const fixedColor = (color: string) =>
  new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Fixed).fixedColor(color)

const lastValue = () => new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false)

/** Counts per interval as stacked bars. */
function stackedBars(panel: timeseries.PanelBuilder): timeseries.PanelBuilder {
  return panel
    .unit('short')
    .decimals(0)
    .min(0)
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(80)
    .lineWidth(1)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .legend(legend())
    .tooltip(tooltip())
    .gridPos({ x: 0, y: 0, w: 12, h: 9 })
}

function eventsOverTime(title: string, intro: string): timeseries.PanelBuilder {
  return stackedBars(withQueries(new timeseries.PanelBuilder(), title, intro))
}

/** A logs panel: time and level of each line, wrapped, with its labels and metadata one click away. */
function logLines(title: string, intro: string, order: common.LogsSortOrder): logs.PanelBuilder {
  return withLogQueries(new logs.PanelBuilder(), title, intro)
    .showTime(true)
    .showLabels(false)
    .showCommonLabels(false)
    .wrapLogMessage(true)
    .prettifyLogMessage(false)
    .enableLogDetails(true)
    .dedupStrategy(common.LogsDedupStrategy.None)
    .sortOrder(order)
}

/** The colours Grafana's logs volume gives each level. */
const LEVEL_COLORS: ReadonlyArray<[string, string]> = [
  ['critical', 'purple'],
  ['error', 'red'],
  ['warning', 'orange'],
  ['info', 'green'],
  ['debug', 'blue']
]

/** One bar per value of `label`: a total over the time range, its value column named `valueName`. */
function totalsByLabel(
  title: string,
  intro: string,
  label: string,
  valueName: string,
  color: string
): barchart.PanelBuilder {
  return withQueries(new barchart.PanelBuilder(), title, intro)
    .xField(label)
    .min(0)
    .showValue(common.VisibilityMode.Always)
    .colorScheme(fixedColor(color))
    .withTransformation({
      id: 'organize',
      options: { excludeByName: { Time: true }, renameByName: { Value: valueName }, indexByName: {} }
    })
    .gridPos({ x: 0, y: 0, w: 12, h: 9 })
}

function funnelStat(title: string, intro: string): stat.PanelBuilder {
  return withQueries(new stat.PanelBuilder(), title, intro)
    .reduceOptions(lastValue())
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Value)
    .gridPos({ x: 0, y: 0, w: 6, h: 5 })
}

function variable(v: VariableQuery): dashboard.QueryVariableBuilder {
  const b = new dashboard.QueryVariableBuilder(v.name)
    .label(v.label)
    .description(v.description)
    .datasource(DATASOURCE)
    .query(v.query)
    .definition(v.query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(v.name === 'version' ? dashboard.VariableSort.NaturalDesc : dashboard.VariableSort.AlphabeticalAsc)
    .multi(v.multi)
    .includeAll(v.includeAll)
  if (v.allValue !== undefined) b.allValue(v.allValue)
  if (v.hidden) b.hide(dashboard.VariableHide.HideVariable)
  if (v.includeAll) b.current({ selected: true, text: ['All'], value: ['$__all'] })
  else if (v.defaultValue !== undefined) b.current({ selected: true, text: v.defaultValue, value: v.defaultValue })
  return b
}

export function buildDashboard(): dashboard.Dashboard {
  const T = PANEL_TITLES
  const b = new dashboard.DashboardBuilder('Botpress on Grafana Cloud')
    .uid(DASHBOARD_UID)
    .description(
      'Chatbot metrics sent by the "Grafana Cloud for Botpress" integration: events per channel and bot version, ' +
        "value quantiles, top metrics and a funnel between two steps (Send Metric), and the LLM calls' tokens, cost " +
        'and latency by model, channel and version (Send LLM Usage); and the lines of Grafana Cloud Logs: one ' +
        "conversation's trail, the errors, and the volume by level (Send Log)."
    )
    .tags(['botpress', 'chatbot', 'grafana-cloud-for-botpress'])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from: 'now-24h', to: 'now' })
    .timezone('browser')
    .refresh('1m')
    .link(
      // The foundation sdk has no alert-list panel; Grafana's own alert list, filtered on the
      // namespace scripts/load-rules.sh loads into, shows every rule's state.
      new dashboard.DashboardLinkBuilder('Alerts')
        .type(dashboard.DashboardLinkType.Link)
        .icon('bell')
        .tooltip('State of the Botpress alerting rules (rules/botpress-rules.yaml)')
        .url(`/alerting/list?search=${encodeURIComponent(`namespace:${RULES_NAMESPACE}`)}`)
        .targetBlank(false)
    )
    .withVariable(
      new dashboard.DatasourceVariableBuilder('datasource')
        .label('Data source')
        .description('The Prometheus data source of your Grafana Cloud stack (grafanacloud-<stack>-prom).')
        .type('prometheus')
    )
    .withVariable(
      new dashboard.DatasourceVariableBuilder('logs_datasource')
        .label('Logs data source')
        .description('The Loki data source of your Grafana Cloud stack (grafanacloud-<stack>-logs), for the Logs row.')
        .type('loki')
    )

  for (const v of VARIABLE_QUERIES) b.withVariable(variable(v))
  b.withVariable(
    new dashboard.TextBoxVariableBuilder('conversation')
      .label('Conversation')
      .description(
        'A conversation ID (the metadata conversationId), for the conversation trail: copy it from a log line or from Botpress.'
      )
  )

  let id = 0
  const next = () => ++id

  // ---- Expected names ------------------------------------------------------------------------
  b.withPanel(
    withQueries(
      new table.PanelBuilder(),
      T.expectedMetrics,
      'The Send Metric names the alerts and this dashboard read, set in rules/config.ts (metrics). A name with ' +
        'no events while the bot has traffic means its cards or hooks are named otherwise: the alerts that read it ' +
        `cannot fire (${DEFAULT_RULES_CONFIG.metrics.errors} stays at 0 for a bot without errors).`
    )
      .id(next())
      .overrideByName('events', [{ id: 'custom.cellOptions', value: { type: 'color-background' } }])
      .thresholds(
        thresholds([
          [null, 'red'],
          [1, 'green']
        ])
      )
      .mappings([
        { type: dashboard.MappingType.ValueToText, options: { '0': { text: 'none under this name', color: 'red' } } }
      ])
      .withTransformation({
        id: 'organize',
        options: { excludeByName: { Time: true }, renameByName: { Value: 'events' }, indexByName: {} }
      })
      .gridPos({ x: 0, y: 0, w: 24, h: 7 })
  )

  // ---- One metric ($metric) -------------------------------------------------------------------
  b.withRow(new dashboard.RowBuilder('Metric: $metric').id(next()))
  b.withPanel(
    eventsOverTime(T.eventsByChannel, 'Number of events (samples) per interval, stacked by channel.').id(next())
  )
  b.withPanel(
    eventsOverTime(
      T.eventsByVersionOverTime,
      'Number of events per interval, stacked by bot version: compare a release with the last one.'
    ).id(next())
  )
  b.withPanel(
    totalsByLabel(
      T.eventsByVersionTotal,
      'Total events per bot version over the time range.',
      'version',
      'events',
      'orange'
    )
      .id(next())
      .unit('short')
      .decimals(0)
  )
  b.withPanel(
    withQueries(
      new timeseries.PanelBuilder(),
      T.quantiles,
      `For metrics whose value is a measure (e.g. ${DEFAULT_RULES_CONFIG.metrics.latency} in ms), not a plain event (value 1).`
    )
      .id(next())
      .unit('short')
      .lineWidth(2)
      .fillOpacity(0)
      .showPoints(common.VisibilityMode.Auto)
      .spanNulls(false)
      .legend(
        new common.VizLegendOptionsBuilder()
          .showLegend(true)
          .displayMode(common.LegendDisplayMode.Table)
          .placement(common.LegendPlacement.Bottom)
          .calcs(['mean', 'max'])
      )
      .tooltip(tooltip())
      .gridPos({ x: 0, y: 0, w: 12, h: 9 })
  )

  // ---- Funnel ---------------------------------------------------------------------------------
  b.withRow(new dashboard.RowBuilder('Funnel: $funnel_from → $funnel_to').id(next()))
  b.withPanel(
    funnelStat(T.funnelFrom, 'Events of the first step over the time range.')
      .id(next())
      .unit('short')
      .decimals(0)
      .colorScheme(fixedColor('text'))
  )
  b.withPanel(
    funnelStat(T.funnelTo, 'Events of the step to reach over the time range.')
      .id(next())
      .unit('short')
      .decimals(0)
      .colorScheme(fixedColor('text'))
  )
  b.withPanel(
    funnelStat(T.conversion, 'Events of "funnel to" per 100 events of "funnel from".')
      .id(next())
      .unit('percent')
      .decimals(1)
      .thresholds(
        thresholds([
          [null, 'red'],
          [50, 'orange'],
          [80, 'green']
        ])
      )
  )
  b.withPanel(
    funnelStat(T.dropOff, '100 % minus the conversion: the share of "funnel from" events not followed by "funnel to".')
      .id(next())
      .unit('percent')
      .decimals(1)
      .thresholds(
        thresholds([
          [null, 'green'],
          [20, 'orange'],
          [50, 'red']
        ])
      )
  )

  // ---- Every metric ---------------------------------------------------------------------------
  b.withRow(new dashboard.RowBuilder('All metrics').id(next()))
  b.withPanel(
    withQueries(
      new table.PanelBuilder(),
      T.topMetrics,
      'Every *_metric series of the selected bots, channels and versions, by how many series sent it ' +
        '(one series per conversation while conversation IDs are on). Exact event totals per metric: ' +
        'the tiles below (PromQL cannot count samples of several metric names in one query).'
    )
      .id(next())
      .sortBy([new common.TableSortByFieldStateBuilder().displayName('series').desc(true)])
      .withTransformation({
        id: 'organize',
        options: {
          excludeByName: { Time: true },
          renameByName: { __name__: 'metric', Value: 'series' },
          indexByName: {}
        }
      })
      .gridPos({ x: 0, y: 0, w: 24, h: 8 })
  )
  b.withPanel(
    withQueries(new stat.PanelBuilder(), T.eventsPerMetric, 'Total events of this metric over the time range.')
      .id(next())
      .repeat('each_metric')
      .repeatDirection('h')
      .maxPerRow(6)
      .reduceOptions(lastValue())
      .graphMode(common.BigValueGraphMode.None)
      .colorMode(common.BigValueColorMode.Value)
      .colorScheme(fixedColor('orange'))
      .unit('short')
      .decimals(0)
      .gridPos({ x: 0, y: 0, w: 4, h: 4 })
  )

  // ---- LLM usage ------------------------------------------------------------------------------
  b.withRow(new dashboard.RowBuilder('LLM usage').id(next()))
  b.withPanel(
    eventsOverTime(
      T.llmTokens,
      'Tokens per interval from the Send LLM Usage card, stacked by model and token type.'
    ).id(next())
  )
  b.withPanel(
    eventsOverTime(T.llmCost, 'The cost of the LLM calls per interval, stacked by model.')
      .id(next())
      .unit('currencyUSD')
      .decimals(4)
  )
  for (const [title, label, intro] of [
    [T.llmCostByChannel, 'channel', 'The cost of the LLM calls per channel over the time range.'],
    [
      T.llmCostByVersion,
      'version',
      'The cost of the LLM calls per bot version over the time range: compare a release with the last one.'
    ]
  ] as const) {
    b.withPanel(totalsByLabel(title, intro, label, 'cost (USD)', 'purple').id(next()).unit('currencyUSD').decimals(4))
  }
  b.withPanel(
    withQueries(
      new timeseries.PanelBuilder(),
      T.llmLatency,
      "How long the LLM calls took (the card's Duration), 95th percentile per interval, by model."
    )
      .id(next())
      .unit('s')
      .lineWidth(2)
      .fillOpacity(0)
      .showPoints(common.VisibilityMode.Auto)
      .spanNulls(false)
      .legend(
        new common.VizLegendOptionsBuilder()
          .showLegend(true)
          .displayMode(common.LegendDisplayMode.Table)
          .placement(common.LegendPlacement.Bottom)
          .calcs(['mean', 'max'])
      )
      .tooltip(tooltip())
      .gridPos({ x: 0, y: 0, w: 24, h: 9 })
  )

  // ---- Logs (Loki) ----------------------------------------------------------------------------
  b.withRow(new dashboard.RowBuilder('Logs').id(next()))
  b.withPanel(
    logLines(
      T.logTrail,
      'Type a conversation ID in the Conversation box (open a line of the errors panel to copy one).',
      common.LogsSortOrder.Ascending
    )
      .id(next())
      .gridPos({ x: 0, y: 0, w: 24, h: 12 })
  )
  b.withPanel(
    logLines(
      T.logErrors,
      'Send Log lines of level error or critical, and LLM calls that failed (trail). Open a line for its ' +
        'conversation, user, event and attributes.',
      common.LogsSortOrder.Descending
    )
      .id(next())
      .gridPos({ x: 0, y: 0, w: 12, h: 10 })
  )
  const volume = stackedBars(
    withLogQueries(
      new timeseries.PanelBuilder(),
      T.logVolume,
      "Stacked by level (Loki's detected_level, read from the line's level)."
    )
  )
  for (const [level, color] of LEVEL_COLORS) {
    volume.overrideByName(level, [{ id: 'color', value: { mode: 'fixed', fixedColor: color } }])
  }
  b.withPanel(volume.id(next()).gridPos({ x: 0, y: 0, w: 12, h: 10 }))

  const built = b.build()
  assertEveryQueryUsed(built)
  return built
}

/** Every query of queries.ts is in the dashboard. */
function assertEveryQueryUsed(d: dashboard.Dashboard): void {
  const used = new Set<string>()
  for (const p of d.panels ?? []) {
    if (p.type === 'row') continue
    const panel = p as dashboard.Panel
    for (const t of panel.targets ?? []) used.add(`${panel.title}\u0000${(t as { refId?: string }).refId}`)
  }
  for (const q of [...PANEL_QUERIES, ...LOG_PANEL_QUERIES]) {
    if (!used.has(`${q.panel}\u0000${q.refId}`)) throw new Error(`query ${q.refId} of "${q.panel}" is in no panel`)
  }
}

/** The file's content: stable key order as built, 2-space indent, trailing newline. */
export function dashboardJson(): string {
  return JSON.stringify(buildDashboard(), null, 2) + '\n'
}

if (require.main === module) {
  process.exitCode = writeOrCheck(process.argv.slice(2), [{ path: DASHBOARD_PATH, text: dashboardJson() }], {
    builder: 'dashboards/build.ts',
    command: 'npm run dashboard'
  })
}
