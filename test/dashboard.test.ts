/**
 * The Grafana dashboard as code: dashboards/build.ts builds dashboards/botpress-grafana.json
 * from the queries in dashboards/queries.ts. These checks need no server; running the
 * substituted queries against real data is a separate test (use PANEL_QUERIES + substitute()),
 * and test/logql.test.ts parses every LogQL query with Grafana's grammar.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DASHBOARD_PATH, dashboardJson } from '../dashboards/build'
import {
  ALL,
  FILTER,
  LOG_PANEL_QUERIES,
  PANEL_QUERIES,
  PANEL_TITLES,
  VARIABLE_QUERIES,
  resolvedQueries,
  substitute,
  substituteLogQL,
  type LogSubstituteVars,
  type SubstituteVars
} from '../dashboards/queries'
import { DEFAULT_RULES_CONFIG } from '../rules/config'
import { sendMetricSeries } from '../src/series-names'

interface Target {
  refId?: string
  expr?: string
  instant?: boolean
  range?: boolean
  format?: string
  queryType?: string
  direction?: string
  legendFormat?: string
  datasource?: { type?: string; uid?: string }
}
interface Panel {
  id: number
  type: string
  title?: string
  description?: string
  repeat?: string
  datasource?: { type?: string; uid?: string }
  options?: { sortOrder?: string; enableLogDetails?: boolean }
  targets?: Target[]
  panels?: Panel[]
}
interface Variable {
  type: string
  name: string
  query?: unknown
  definition?: string
  multi?: boolean
  includeAll?: boolean
  allValue?: string
}
interface Dashboard {
  uid: string
  title: string
  panels: Panel[]
  templating: { list: Variable[] }
}

const committed = readFileSync(DASHBOARD_PATH, 'utf8')
const dash = JSON.parse(committed) as Dashboard
const allPanels = dash.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]))
const DS = { type: 'prometheus', uid: '${datasource}' }
const LOGS_DS = { type: 'loki', uid: '${logs_datasource}' }
const isLogsPanel = (p: Panel) => LOG_PANEL_QUERIES.some((q) => q.panel === p.title)

const VARS: SubstituteVars = {
  metric: 'response_latency_metric',
  bot: ALL,
  channel: ['webchat', 'whatsapp'],
  version: '1.4.2',
  funnel_from: 'flow_started_metric',
  funnel_to: 'flow_completed_metric',
  interval: '1m',
  range: '6h'
}

describe('dashboards/botpress-grafana.json', () => {
  it('is exactly what dashboards/build.ts builds (npm run dashboard), deterministically', () => {
    const built = dashboardJson()
    expect(committed).toBe(built)
    expect(dashboardJson()).toBe(built)
    expect(built.endsWith('}\n')).toBe(true)
  })

  it('has a Prometheus data-source variable and the query variables of queries.ts', () => {
    const vars = dash.templating.list
    expect(vars[0]).toMatchObject({ type: 'datasource', name: 'datasource', query: 'prometheus' })
    const names = vars.map((v) => v.name)
    for (const n of ['datasource', 'metric', 'bot', 'channel', 'version', 'funnel_from', 'funnel_to'])
      expect(names).toContain(n)
    for (const v of VARIABLE_QUERIES) {
      const inJson = vars.find((x) => x.name === v.name)
      expect(inJson, v.name).toMatchObject({ type: 'query', query: v.query, multi: v.multi, includeAll: v.includeAll })
      expect((inJson as { datasource?: unknown }).datasource).toEqual(DS)
    }
    for (const n of ['bot', 'channel', 'version']) {
      expect(vars.find((x) => x.name === n)).toMatchObject({ multi: true, includeAll: true, allValue: '.*' })
    }
    for (const n of ['metric', 'funnel_from', 'funnel_to']) {
      expect(vars.find((x) => x.name === n)).toMatchObject({ multi: false, includeAll: false })
      expect(vars.find((x) => x.name === n)?.query).toBe('label_values({__name__=~".+_metric"}, __name__)')
    }
  })

  it('has a Loki data-source variable and a conversation text box for the Logs row', () => {
    const vars = dash.templating.list
    expect(vars.find((v) => v.name === 'logs_datasource')).toMatchObject({ type: 'datasource', query: 'loki' })
    expect(vars.find((v) => v.name === 'conversation')).toMatchObject({ type: 'textbox' })
    expect(new Set(vars.map((v) => v.name)).size).toBe(vars.length)
  })

  it('defines every variable that a panel, a row, a query or a variable query uses', () => {
    const BUILT_IN = new Set(['__interval', '__interval_ms', '__rate_interval', '__range', '__range_s', '__range_ms'])
    const defined = new Set(dash.templating.list.map((v) => v.name))
    const texts = [
      ...dash.panels
        .flatMap((p) => [p, ...(p.panels ?? [])])
        .flatMap((p) => [
          p.title ?? '',
          p.description ?? '',
          p.datasource?.uid ?? '',
          p.repeat === undefined ? '' : `$${p.repeat}`,
          ...(p.targets ?? []).flatMap((t) => [t.expr ?? '', t.legendFormat ?? '', t.datasource?.uid ?? ''])
        ]),
      ...dash.templating.list.flatMap((v) => [typeof v.query === 'string' ? v.query : '', v.definition ?? ''])
    ]
    const used = new Set(
      texts.flatMap((t) =>
        [...t.matchAll(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g)].map((m) => (m[1] ?? m[2] ?? m[3])!)
      )
    )
    for (const n of ['datasource', 'logs_datasource', 'conversation', 'bot', 'channel', '__interval']) {
      expect(used).toContain(n)
    }
    for (const name of used) expect(BUILT_IN.has(name) || defined.has(name), `$${name}`).toBe(true)
  })

  it('takes every panel query from queries.ts, and every query of queries.ts is in a panel', () => {
    const inJson = allPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, t })))
    expect(inJson.length).toBe(PANEL_QUERIES.length + LOG_PANEL_QUERIES.length)
    for (const { panel, t } of inJson) {
      const log = LOG_PANEL_QUERIES.find((x) => x.panel === panel && x.refId === t.refId)
      if (log !== undefined) {
        expect(t.expr).toBe(log.expr)
        expect(t.queryType).toBe('range')
        expect(t.direction).toBe(log.direction)
        expect(t.legendFormat).toBe(log.legendFormat)
        continue
      }
      const q = PANEL_QUERIES.find((x) => x.panel === panel && x.refId === t.refId)
      expect(q, `${panel} ${t.refId}`).toBeDefined()
      expect(t.expr).toBe(q!.expr)
      expect(t.instant).toBe(q!.kind === 'instant')
      expect(t.range).toBe(q!.kind === 'range')
      expect(t.format).toBe(q!.format)
    }
    const keys = new Set([...PANEL_QUERIES, ...LOG_PANEL_QUERIES].map((q) => `${q.panel}/${q.refId}`))
    expect(keys.size).toBe(PANEL_QUERIES.length + LOG_PANEL_QUERIES.length)
  })

  it('has the panels: by channel, by bot version, a bar chart, top metrics, p50/p95 latency, the funnel, one per metric', () => {
    const byType = (type: string) => allPanels.filter((p) => p.type === type).map((p) => p.title)
    expect(byType('timeseries').some((t) => /by channel/.test(t!))).toBe(true)
    expect(allPanels.some((p) => /by bot version/.test(p.title!))).toBe(true)
    expect(byType('barchart').length).toBeGreaterThan(0)
    expect(byType('table').some((t) => /Top metrics/.test(t!))).toBe(true)
    const quantiles = PANEL_QUERIES.filter((q) => /quantile_over_time/.test(q.expr)).map((q) => q.expr)
    expect(quantiles.some((e) => e.includes('0.5,'))).toBe(true)
    expect(quantiles.some((e) => e.includes('0.95,'))).toBe(true)
    const funnel = PANEL_QUERIES.filter((q) => q.expr.includes('$funnel_from') && q.expr.includes('$funnel_to'))
    expect(funnel.length).toBeGreaterThanOrEqual(2) // conversion and drop-off
    expect(allPanels.find((p) => p.repeat === 'each_metric')).toBeDefined()
  })

  it('opens with "Expected metrics": one row per name of rules/config.ts, the names its alerts and defaults read', () => {
    const first = dash.panels[0]!
    expect(first).toMatchObject({ type: 'table', title: PANEL_TITLES.expectedMetrics })
    const [target] = first.targets!
    const names = Object.values(DEFAULT_RULES_CONFIG.metrics)
    expect([...target!.expr!.matchAll(/"metric", "(\w+)"/g)].map((m) => m[1])).toEqual(names)
    for (const name of names) expect(target!.expr).toContain(`count_over_time(${sendMetricSeries(name)}{${FILTER}}`)
    const defaults = Object.fromEntries(
      dash.templating.list.map((v) => [v.name, (v as { current?: { value?: unknown } }).current?.value])
    )
    expect(defaults.funnel_from).toBe(sendMetricSeries(DEFAULT_RULES_CONFIG.metrics.flowStarted))
    expect(defaults.funnel_to).toBe(sendMetricSeries(DEFAULT_RULES_CONFIG.metrics.flowCompleted))
  })

  it('has an LLM usage row: tokens and cost over time by model, cost by channel and by version, latency p95 by model', () => {
    const row = dash.panels.findIndex((p) => p.type === 'row' && p.title === 'LLM usage')
    expect(row).toBeGreaterThan(0)
    const llm = dash.panels.slice(row + 1)
    const exprs = (title: RegExp) =>
      llm.filter((p) => title.test(p.title!)).flatMap((p) => (p.targets ?? []).map((t) => t.expr!))
    expect(
      exprs(/^LLM tokens over time by model/).every((e) =>
        e.includes('sum by (gen_ai_request_model) (sum_over_time(gen_ai_client_token_usage{')
      )
    ).toBe(true)
    expect(exprs(/^LLM tokens over time by model/).map((e) => /gen_ai_token_type="(\w+)"/.exec(e)?.[1])).toEqual([
      'input',
      'output'
    ])
    expect(exprs(/^LLM cost over time by model/)).toEqual([
      expect.stringContaining('sum by (gen_ai_request_model) (sum_over_time(gen_ai_client_cost_usd{')
    ])
    expect(exprs(/^LLM cost by channel/)).toEqual([
      expect.stringContaining('sum by (channel) (sum_over_time(gen_ai_client_cost_usd{')
    ])
    expect(exprs(/^LLM cost by bot version/)).toEqual([
      expect.stringContaining('sum by (version) (sum_over_time(gen_ai_client_cost_usd{')
    ])
    expect(exprs(/^LLM latency p95 by model/)).toEqual([
      expect.stringMatching(
        /^quantile by \(gen_ai_request_model\) \(0\.95, quantile_over_time\(0\.95, gen_ai_client_operation_duration_seconds\{/
      )
    ])
  })

  it('has a Logs row: the conversation trail oldest first, errors with their messages, log volume by level', () => {
    const row = dash.panels.findIndex((p) => p.type === 'row' && p.title === 'Logs')
    expect(row).toBeGreaterThan(0)
    const next = dash.panels.findIndex((p, i) => i > row && p.type === 'row')
    const inRow = dash.panels.slice(row + 1, next === -1 ? undefined : next)
    const panel = (title: RegExp) => inRow.find((p) => title.test(p.title!))
    const trail = panel(/^Conversation trail: \$conversation$/)
    expect(trail).toMatchObject({ type: 'logs', options: { sortOrder: 'Ascending', enableLogDetails: true } })
    expect(trail?.targets).toEqual([
      expect.objectContaining({
        expr: '{service_name="botpress", botId=~"$bot"} | conversationId="$conversation"',
        direction: 'forward'
      })
    ])
    const errors = panel(/^Errors with their messages$/)
    expect(errors).toMatchObject({ type: 'logs', options: { enableLogDetails: true } })
    expect(errors?.targets?.map((t) => t.expr)).toEqual([
      '{service_name="botpress", botId=~"$bot", channel=~"$channel"} | json | level=~"error|critical"'
    ])
    const volume = panel(/^Log volume by level$/)
    expect(volume).toMatchObject({ type: 'timeseries' })
    expect(volume?.targets).toEqual([
      expect.objectContaining({
        expr: 'sum by (detected_level) (count_over_time({service_name="botpress", botId=~"$bot", channel=~"$channel"} [$__interval]))',
        legendFormat: '{{detected_level}}'
      })
    ])
    expect(inRow.length).toBe(3)
  })

  it('selects the botpress service and the chosen bots in every log query, and counts lines with count_over_time', () => {
    for (const q of LOG_PANEL_QUERIES) {
      const selectors = q.expr.match(/\{[^{}]*\}/g) ?? []
      expect(selectors.length, q.panel).toBe(1)
      expect(selectors[0], q.panel).toMatch(/^\{service_name="botpress", botId=~"\$bot"[,}]/)
      const windows = [...q.expr.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1])
      if (q.kind === 'range') {
        expect(windows, q.panel).toEqual(['$__interval'])
        expect(q.expr).toMatch(/^sum by \(\w+\) \(count_over_time\(/)
      } else {
        expect(windows, q.panel).toEqual([])
        expect(q.direction, q.panel).toBeDefined()
      }
      // Lines are events: exact counts, never an extrapolated rate.
      expect(q.expr).not.toMatch(/\b(rate|bytes_rate|irate|increase)\(/)
    }
  })

  it('filters every query by bot, channel and version, and counts events with the right windows', () => {
    for (const q of PANEL_QUERIES) {
      const selectors = q.expr.match(/\{[^{}]*\}/g) ?? []
      expect(selectors.length, q.panel).toBeGreaterThan(0)
      for (const s of selectors) {
        expect(s, `${q.panel} ${q.refId}`).toContain('botId=~"$bot"')
        expect(s).toContain('channel=~"$channel"')
        expect(s).toContain('version=~"$version"')
      }
      expect(q.expr).toContain(FILTER)
      // Range queries look at one $__interval per point; instant queries at the whole $__range.
      const windows = [...q.expr.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1])
      expect(windows.length, q.panel).toBeGreaterThan(0)
      for (const w of windows) expect(w).toBe(q.kind === 'range' ? '$__interval' : '$__range')
      // Events are samples, not counters.
      expect(q.expr).not.toMatch(/\b(rate|irate|increase)\(/)
    }
  })

  it('reads every metrics panel and query from the datasource variable, every logs panel and query from logs_datasource', () => {
    const variables = new Map(
      dash.templating.list.filter((v) => v.type === 'datasource').map((v) => [`\${${v.name}}`, v.query])
    )
    expect(allPanels.length).toBeGreaterThan(0)
    expect(allPanels.filter(isLogsPanel).length).toBe(new Set(LOG_PANEL_QUERIES.map((q) => q.panel)).size)
    for (const p of allPanels) {
      const source = isLogsPanel(p) ? LOGS_DS : DS
      expect(p.datasource, p.title).toEqual(source)
      expect(variables.get(source.uid), `${p.title}: a ${source.type} data-source variable`).toBe(source.type)
      expect(p.targets?.length, p.title).toBeGreaterThan(0)
      for (const t of p.targets!) expect(t.datasource, `${p.title} ${t.refId}`).toEqual(source)
    }
  })

  it('has unique panel ids and a stable uid', () => {
    const ids = dash.panels.flatMap((p) => [p.id, ...(p.panels ?? []).map((c) => c.id)])
    expect(new Set(ids).size).toBe(ids.length)
    expect(dash.uid).toBe('botpress-grafana-cloud')
  })
})

describe('substitute()', () => {
  it('leaves no variable in any panel query and yields balanced, plausible PromQL', () => {
    for (const vars of [
      VARS,
      { ...VARS, bot: 'bot-1', channel: ALL, version: ['1.4.2', '1.5.0'], interval: 30, range: 3600 }
    ]) {
      const resolved = resolvedQueries(vars)
      expect(resolved.map((r) => r.expr)).toEqual(PANEL_QUERIES.map((q) => q.expr))
      for (const q of resolved) {
        const expr = q.promql
        expect(expr).toBe(substitute(q.expr, vars))
        expect(expr, q.panel).not.toContain('$')
        expect(expr).not.toMatch(/\[\[|\]\]/)
        for (const [open, close] of ['()', '{}', '[]']) {
          expect(expr.split(open!).length, `${q.panel}: ${open}${close}`).toBe(expr.split(close!).length)
        }
        expect(expr.split('"').length % 2, q.panel).toBe(1) // quotes paired
        expect(expr).toMatch(/\[\d+(ms|s|m|h)\]/)
        expect(expr).toMatch(/botId=~"[^"]+", channel=~"[^"]+", version=~"[^"]+"/)
        // __name__ is the series' own; `metric` is set by label_replace (one row per expected name).
        if (q.seriesLabel === 'metric') expect(expr).toContain('label_replace(')
        else if (q.seriesLabel !== undefined && q.seriesLabel !== '__name__')
          expect(expr).toContain(`by (${q.seriesLabel})`)
      }
    }
  })

  it('replaces variables the way Grafana does for Prometheus', () => {
    const e =
      '$metric{botId=~"$bot", channel=~"${channel}", version=~"[[version]]"}[$__interval] $__range $__range_s $__interval_ms'
    expect(substitute(e, VARS)).toBe(
      'response_latency_metric{botId=~".*", channel=~"(webchat|whatsapp)", version=~"1\\\\.4\\\\.2"}[1m] 21600s 21600 60000'
    )
    expect(substitute('{botId=~"$bot"}', { ...VARS, bot: 'All' })).toBe('{botId=~".*"}')
    expect(substitute('{botId=~"$bot"}', { ...VARS, bot: ['a.b'] })).toBe('{botId=~"a\\\\.b"}')
    expect(substitute('$funnel_from / $funnel_to', VARS)).toBe('flow_started_metric / flow_completed_metric')
    expect(substitute('{__name__=~"$each_metric"}', VARS)).toBe('{__name__=~"response_latency_metric"}')
    expect(substitute('{__name__=~"$each_metric"}', { ...VARS, each_metric: 'x_metric' })).toBe(
      '{__name__=~"x_metric"}'
    )
    expect(substitute('[$__range]', { ...VARS, range: 90 })).toBe('[90s]')
    expect(substitute('$unknown $1', VARS)).toBe('$unknown $1')
    expect(() => substitute('x', { ...VARS, interval: 'soon' })).toThrow(/duration/)
    expect(() => substitute('{botId=~"$bot"}', { ...VARS, bot: [] })).toThrow()
  })
})

describe('substituteLogQL()', () => {
  const LOG_VARS: LogSubstituteVars = {
    bot: ALL,
    channel: ['webchat', 'whats.app'],
    conversation: 'conv_01H',
    interval: '1m',
    range: '6h'
  }

  it('leaves no variable in any log panel query', () => {
    for (const vars of [LOG_VARS, { ...LOG_VARS, bot: ['bot-1'], channel: ALL, interval: 30, range: 3600 }]) {
      for (const q of LOG_PANEL_QUERIES) {
        const logql = substituteLogQL(q.expr, vars)
        expect(logql, q.panel).not.toContain('$')
        expect(logql).toMatch(/^(sum by \(\w+\) \(count_over_time\()?\{service_name="botpress", botId=~"[^"]+"/)
      }
    }
  })

  it("replaces variables the way Grafana's Loki data source does", () => {
    const e = '{botId=~"$bot", channel=~"${channel}"} | conversationId="$conversation" [$__interval] [$__range]'
    expect(substituteLogQL(e, LOG_VARS)).toBe(
      '{botId=~".*", channel=~"(webchat|whats\\\\.app)"} | conversationId="conv_01H" [1m] [21600s]'
    )
    // A single value keeps its backslashes (unlike Prometheus); a quote is escaped as for Prometheus.
    expect(substituteLogQL('"$conversation"', { ...LOG_VARS, conversation: "a\\b'c" })).toBe('"a\\b\\\\\'c"')
    expect(substitute('"$metric"', { ...VARS, metric: "a\\b'c" })).toBe('"a\\\\b\\\\\'c"')
    expect(substituteLogQL('{botId=~"$bot"}', { ...LOG_VARS, bot: ['a.b', 'c'] })).toBe('{botId=~"(a\\\\.b|c)"}')
    expect(substituteLogQL('$metric $version', LOG_VARS)).toBe('$metric $version')
  })
})
