/**
 * The Grafana dashboard as code: dashboards/build.ts builds dashboards/botpress-grafana.json
 * from the queries in dashboards/queries.ts. These checks need no server; running the
 * substituted queries against real data is a separate test (use PANEL_QUERIES + substitute()).
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DASHBOARD_PATH, dashboardJson } from '../dashboards/build'
import {
  ALL,
  FILTER,
  PANEL_QUERIES,
  VARIABLE_QUERIES,
  resolvedQueries,
  substitute,
  type SubstituteVars
} from '../dashboards/queries'

interface Target {
  refId?: string
  expr?: string
  instant?: boolean
  range?: boolean
  format?: string
  datasource?: { type?: string; uid?: string }
}
interface Panel {
  id: number
  type: string
  title?: string
  repeat?: string
  datasource?: { type?: string; uid?: string }
  targets?: Target[]
  panels?: Panel[]
}
interface Variable {
  type: string
  name: string
  query?: unknown
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

  it('takes every panel query from queries.ts, and every query of queries.ts is in a panel', () => {
    const inJson = allPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, t })))
    expect(inJson.length).toBe(PANEL_QUERIES.length)
    for (const { panel, t } of inJson) {
      const q = PANEL_QUERIES.find((x) => x.panel === panel && x.refId === t.refId)
      expect(q, `${panel} ${t.refId}`).toBeDefined()
      expect(t.expr).toBe(q!.expr)
      expect(t.instant).toBe(q!.kind === 'instant')
      expect(t.range).toBe(q!.kind === 'range')
      expect(t.format).toBe(q!.format)
    }
    const keys = new Set(PANEL_QUERIES.map((q) => `${q.panel}/${q.refId}`))
    expect(keys.size).toBe(PANEL_QUERIES.length)
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

  it('reads every panel and every query from the datasource variable', () => {
    expect(allPanels.length).toBeGreaterThan(0)
    for (const p of allPanels) {
      expect(p.datasource, p.title).toEqual(DS)
      expect(p.targets?.length, p.title).toBeGreaterThan(0)
      for (const t of p.targets!) expect(t.datasource, `${p.title} ${t.refId}`).toEqual(DS)
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
        if (q.seriesLabel !== undefined && q.seriesLabel !== '__name__') expect(expr).toContain(`by (${q.seriesLabel})`)
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
