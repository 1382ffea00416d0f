/**
 * 3. Encoding: Send Metric line building (buildMetricEvent from src/metric.ts, imported
 * directly) against @influxdata/influxdb-client's Point.toLineProtocol() on identical inputs;
 * and the raw-data validator's throughput (parseRawData) on a 1 MiB body of mixed lines.
 */
import { Point } from '@influxdata/influxdb-client'
import { limits, utf8Bytes } from '../src/limits'
import { buildMetricEvent, type MetricContext } from '../src/metric'
import { parseRawData } from '../src/line-protocol/validate'
import type { SendMetricInput } from '../src/schemas'
import { verdict, type Section } from './lib/report'
import { count, median, now, quantile, ratio } from './lib/stats'

const TARGET = 1.5
const CONTEXT: MetricContext = { botId: 'bot-bench', includeConversationAndUserIds: true }

interface Case {
  readonly input: SendMetricInput & { value: number; tags: Record<string, string> }
  readonly timestamp: number
}

/** 1,000 distinct events: realistic ids, a few values that need escaping, varied values. */
export const cases = (): Case[] =>
  Array.from({ length: 1000 }, (_, i) => ({
    input: {
      name: i % 3 === 0 ? 'flow_completed' : i % 3 === 1 ? 'handoff_requested' : 'nlu_fallback',
      channel: i % 5 === 0 ? 'whatsapp' : 'webchat',
      botId: 'bot-4f1c9e2a',
      conversationId: `conv_01HZ${(i * 7919).toString(36).padStart(8, '0')}`,
      userId: `user_01HZ${(i * 104729).toString(36).padStart(8, '0')}`,
      version: `1.${i % 7}.${i % 13}`,
      value: i % 4 === 0 ? 1 : Math.round(i * 13.37 * 100) / 100,
      tags: { flow: i % 10 === 0 ? 'check out, express' : 'checkout', step: `step_${i % 6}` },
    },
    timestamp: 1_764_072_000_000 + i * 1_000,
  }))

export const ours = (c: Case): string => buildMetricEvent(c.input, CONTEXT, c.timestamp).line

export const theirs = (c: Case): string => {
  const { input } = c
  return new Point(input.name)
    .tag('channel', input.channel!)
    .tag('botId', input.botId!)
    .tag('version', String(input.version))
    .tag('flow', input.tags.flow!)
    .tag('step', input.tags.step!)
    .tag('conversationId', input.conversationId!)
    .tag('userId', input.userId!)
    .floatField('metric', input.value)
    .timestamp(c.timestamp)
    .toLineProtocol()!
}

/** A body of mixed valid lines, at most 1 MiB (the validator's limit), one distinct series each. */
export const mixedBody = (maxBytes = limits.maxRawBodyBytes): { body: string; lines: number } => {
  const shapes = [
    (i: number) => `checkout,flow=cart,step=s${i},channel=webchat amount=35.2,items=3i,express=true`,
    (i: number) => `latency,route=/api/v1/orders/${i},method=POST,region=eu-west-1 value=${(i % 977) * 1.37}`,
    (i: number) => `nlu_confidence,intent=intent_${i},lang=en,model=bp-nlu-2 score=0.${(i * 37) % 100},matched=T`,
    (i: number) => `queue_depth,queue=q${i} value=${i}i`,
    (i: number) => `handoff,agent=agent\\ ${i},reason=price\\,quote,team=sales wait_seconds=${i % 300}.5,escalated=false`,
    (i: number) => `tokens,bot=b${i},model=gpt-4o prompt=${i % 2000}i,completion=${i % 700}i,cost=-0.00${i % 97}e-1`,
    (i: number) => `  # comment ${i}: skipped by the validator`,
    () => '',
  ]
  const parts: string[] = []
  let bytes = 0
  for (let i = 0; ; i++) {
    const line = shapes[i % shapes.length]!(i)
    const added = utf8Bytes(line) + (parts.length > 0 ? 1 : 0)
    if (bytes + added > maxBytes) break
    parts.push(line)
    bytes += added
  }
  const body = parts.join('\n')
  return { body, lines: parseRawData(body).length }
}

export interface EncodingOptions {
  readonly rounds: number
  /** Lines per side per round. */
  readonly perRound: number
  readonly rawRounds: number
}

export const runEncoding = (options: EncodingOptions): Section => {
  const all = cases()
  const mismatches = all.filter((c) => ours(c) !== theirs(c))
  if (mismatches.length > 0) {
    throw new Error(`buildMetricEvent and Point disagree on ${mismatches.length} inputs, e.g.\n${ours(mismatches[0]!)}\n${theirs(mismatches[0]!)}`)
  }
  let sink = 0
  const timeSide = (fn: (c: Case) => string): number => {
    const start = now()
    for (let i = 0; i < options.perRound; i++) sink += fn(all[i % all.length]!).length
    return ((now() - start) * 1e6) / options.perRound // ns per line
  }
  for (let i = 0; i < 3; i++) {
    timeSide(ours)
    timeSide(theirs)
  }
  const oursNs: number[] = []
  const theirsNs: number[] = []
  for (let round = 0; round < options.rounds; round++) {
    if (round % 2 === 0) {
      oursNs.push(timeSide(ours))
      theirsNs.push(timeSide(theirs))
    } else {
      theirsNs.push(timeSide(theirs))
      oursNs.push(timeSide(ours))
    }
  }

  const { body, lines } = mixedBody()
  const bodyBytes = utf8Bytes(body)
  parseRawData(body)
  const rawMs: number[] = []
  for (let round = 0; round < options.rawRounds; round++) {
    const start = now()
    sink += parseRawData(body).length
    rawMs.push(now() - start)
  }
  if (sink === 0) throw new Error('unreachable')

  const perSecond = (ns: number) => `${count(1e9 / ns)} lines/s`
  // For a rate the slow tail is the 99th percentile of the time per line.
  const speedupMedian = median(theirsNs) / median(oursNs)
  const speedupP99 = quantile(theirsNs, 0.99) / quantile(oursNs, 0.99)
  const mbps = (millis: number) => `${(bodyBytes / 1e6 / (millis / 1000)).toFixed(1)} MB/s`
  return {
    title: '3. Encoding and validation',
    rows: [
      {
        figure: 'Send Metric line building, median round',
        ours: `${perSecond(median(oursNs))} (${median(oursNs).toFixed(0)} ns/line)`,
        floor: `${perSecond(median(theirsNs))} (${median(theirsNs).toFixed(0)} ns/line)`,
        ratio: ratio(speedupMedian),
        target: `≥ ${TARGET}`,
        verdict: verdict(speedupMedian >= TARGET),
      },
      {
        figure: 'Send Metric line building, p99 round',
        ours: `${perSecond(quantile(oursNs, 0.99))}`,
        floor: `${perSecond(quantile(theirsNs, 0.99))}`,
        ratio: ratio(speedupP99),
        target: `≥ ${TARGET}`,
        verdict: verdict(speedupP99 >= TARGET),
      },
      {
        figure: `Raw-data validation, ${(bodyBytes / 1024).toFixed(0)} KiB body (${lines} lines), median round`,
        ours: `${mbps(median(rawMs))} (${median(rawMs).toFixed(1)} ms/body)`,
        floor: '—',
        ratio: '—',
        target: '—',
        verdict: 'info',
      },
      {
        figure: 'Raw-data validation, p99 round',
        ours: `${mbps(quantile(rawMs, 0.99))} (${quantile(rawMs, 0.99).toFixed(1)} ms/body)`,
        floor: '—',
        ratio: '—',
        target: '—',
        verdict: 'info',
      },
    ],
    notes: [
      `**Line building**: ${options.rounds} rounds × ${options.perRound.toLocaleString('en')} lines per side (after 3 warm-up rounds), ` +
        'alternating which side goes first, in the bench process. Ratio = their time per line / ours (≥ 1.5 means we build lines ' +
        '1.5× as fast). Ours: `buildMetricEvent(input, context, timestampMs).line` from `src/metric.ts` — which also validates the ' +
        'name, value and extra labels, cleans label values and checks Grafana\'s byte limits, and returns the series name and ' +
        'labels. Theirs: `new Point(name).tag(…)×7.floatField(\'metric\', value).timestamp(ms).toLineProtocol()` from ' +
        '@influxdata/influxdb-client 1.35 (no WriteApi; a number timestamp is written as given, so ms). Same 1,000 distinct ' +
        `inputs on both sides (7 labels, 10% of them with a comma and a space to escape); the bench first checks that both ` +
        'produce byte-identical lines for all of them.',
      `**Raw-data validation**: \`parseRawData\` on a ${bodyBytes.toLocaleString('en')}-byte body (the validator's limit is ` +
        `${limits.maxRawBodyBytes.toLocaleString('en')} bytes) of ${lines.toLocaleString('en')} valid lines in six shapes ` +
        '(tags, several fields, integers, booleans, exponents, escaped commas and spaces) plus comments and blank lines, ' +
        `${options.rawRounds} rounds after one warm-up; MB = 10⁶ bytes. No target was set: for scale, a 100-line Send Raw Data ` +
        'body is ~7 KB.',
    ],
  }
}
