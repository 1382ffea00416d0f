/**
 * Every LogQL query the project ships parses with Grafana's own LogQL grammar
 * (@grafana/lezer-logql, the parser behind Grafana's query editor): the Loki queries of the
 * committed dashboard, with their variables substituted as Grafana does, and every ```logql
 * block of hub.md and docs/*.md, which must also document the queries of the logs design. Needs
 * no server.
 */
import { parser } from '@grafana/lezer-logql'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DASHBOARD_PATH } from '../dashboards/build'
import { ALL, LOG_PANEL_QUERIES, substituteLogQL, type LogSubstituteVars } from '../dashboards/queries'
import { codeBlocks } from './helpers/markdown'

const EXPORT_LOGS_SCRIPT = resolve(__dirname, '../scripts/export-logs.sh')

/** The queries the logs design ships in the docs (one conversation, errors, events per day, max_tokens). */
const DESIGN_QUERIES = [
  '{service_name="botpress", botId="$bot"} | conversationId="$conversation"',
  '{service_name="botpress"} | json | level=~"error|critical" | line_format "{{.channel}}: {{.message}}"',
  'sum by (channel) (count_over_time({service_name="botpress"} | json | level=~"error|critical" [$__range]))',
  'sum by (event) (count_over_time({service_name="botpress"} | event="flow_completed" [1d]))',
  'sum by (conversationId) (count_over_time({service_name="botpress"} | card="sendLlmUsage" | gen_ai_response_finish_reason="max_tokens" [$__range]))'
]

/** Two dashboards' worth of selections: "All" and a regex-escaped list, one bot and "All" channels. */
const VAR_SETS: LogSubstituteVars[] = [
  { bot: ALL, channel: ['webchat', 'whats.app'], conversation: 'conv_01HXYZ', interval: '1m', range: '6h' },
  { bot: ['bot-1'], channel: ALL, conversation: 'conv_01HABC', interval: 30, range: 3600 }
]

/** Where Grafana's grammar finds a syntax error in `query` (offsets of its error nodes); none when it parses. */
function syntaxErrors(query: string): number[] {
  const errors: number[] = []
  parser.parse(query).iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(node.from)
    }
  })
  return errors
}

interface ShippedQuery {
  readonly where: string
  readonly expr: string
}

/** The Loki targets of the committed dashboard, rows' panels included. */
function dashboardQueries(): ShippedQuery[] {
  interface Panel {
    title?: string
    panels?: Panel[]
    targets?: Array<{ refId?: string; expr?: string; datasource?: { type?: string } }>
  }
  const dash = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as { panels: Panel[] }
  return dash.panels
    .flatMap((p) => [p, ...(p.panels ?? [])])
    .flatMap((p) =>
      (p.targets ?? [])
        .filter((t) => t.datasource?.type === 'loki')
        .map((t) => ({ where: `dashboard: ${p.title} ${t.refId}`, expr: t.expr ?? '' }))
    )
}

/** The ```logql blocks of hub.md and docs/*.md. */
function documentedQueries(): ShippedQuery[] {
  return codeBlocks()
    .filter((block) => block.info === 'logql')
    .map((block, i) => ({ where: `${block.page}, logql block ${i + 1}`, expr: block.body }))
}

/** An export-logs.sh argument in a shell example or in the script's help: `--query '<LogQL>'`. */
const QUERY_ARGUMENT = /--query '([^']*)'/g

/** The LogQL export-logs.sh is given in the docs' shell examples, its help, and its default selection. */
function exportQueries(): ShippedQuery[] {
  const script = readFileSync(EXPORT_LOGS_SCRIPT, 'utf8')
  const fromDocs = codeBlocks()
    .filter((block) => block.info === 'sh')
    .flatMap((block) => [...block.body.matchAll(QUERY_ARGUMENT)].map((m) => ({ where: block.page, expr: m[1]! })))
  const fromScript = [...script.matchAll(QUERY_ARGUMENT)].map((m) => ({ where: 'export-logs.sh --help', expr: m[1]! }))
  const fallback = /^DEFAULT_QUERY='([^']*)'$/mu.exec(script)?.[1]
  return [...fromDocs, ...fromScript, { where: 'export-logs.sh default', expr: fallback ?? '' }]
}

/** Every shipped query under every set of variables, as Grafana would send it to Loki. */
function resolved(queries: ShippedQuery[]): ShippedQuery[] {
  return queries.flatMap((q) => VAR_SETS.map((vars) => ({ where: q.where, expr: substituteLogQL(q.expr, vars) })))
}

describe('LogQL the project ships', () => {
  it("the dashboard's Loki queries parse with Grafana's grammar once their variables are substituted", () => {
    const queries = dashboardQueries()
    expect(queries.map((q) => q.expr).sort()).toEqual(LOG_PANEL_QUERIES.map((q) => q.expr).sort())
    for (const q of resolved(queries)) {
      expect(q.expr, q.where).not.toContain('$')
      expect(syntaxErrors(q.expr), `${q.where}: ${q.expr}`).toEqual([])
    }
  })

  it("every ```logql block of hub.md and docs/ holds one query that parses with Grafana's grammar", () => {
    const queries = documentedQueries()
    expect(queries.length).toBeGreaterThanOrEqual(DESIGN_QUERIES.length)
    for (const q of queries) expect(q.expr.split('\n').length, q.where).toBe(1)
    for (const q of resolved(queries)) {
      expect(q.expr, q.where).not.toContain('$')
      expect(syntaxErrors(q.expr), `${q.where}: ${q.expr}`).toEqual([])
    }
  })

  it("every query given to export-logs.sh (docs' examples, its help, its default) parses with Grafana's grammar", () => {
    const queries = exportQueries()
    expect(queries.length).toBeGreaterThan(2)
    for (const q of queries) expect(syntaxErrors(q.expr), `${q.where}: ${q.expr}`).toEqual([])
  })

  it('hub.md or docs/ documents every query of the logs design, each in a ```logql block', () => {
    const documented = documentedQueries().map((q) => q.expr)
    for (const query of DESIGN_QUERIES) expect(documented, query).toContain(query)
  })

  it('hub.md and docs/ have no LogQL outside ```logql blocks, where this test would not parse it', () => {
    const others = codeBlocks().filter((block) => block.info !== 'logql')
    expect(others.length).toBeGreaterThan(0)
    for (const { page, body } of others) {
      expect(body.replace(QUERY_ARGUMENT, ''), page).not.toMatch(/service_name\s*=|\|\s*json\b|\|\s*logfmt\b/)
    }
  })

  it('the parse check catches a broken query: every shipped query cut short by one character fails it', () => {
    const shipped = resolved([...dashboardQueries(), ...documentedQueries(), ...exportQueries()])
    expect(shipped.length).toBeGreaterThan(0)
    for (const q of shipped) expect(syntaxErrors(q.expr.slice(0, -1)), q.where).not.toEqual([])
    for (const broken of [
      '',
      '{service_name="botpress"',
      '{service_name="botpress"} | json |',
      '{service_name="botpress"} | conversationId=',
      'count_over_time({service_name="botpress"})',
      // A Grafana variable left in a range: why the queries are substituted before parsing.
      'sum by (level) (count_over_time({service_name="botpress"} [$__interval]))'
    ]) {
      expect(syntaxErrors(broken), broken).not.toEqual([])
    }
  })
})
