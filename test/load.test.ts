/**
 * Every call answered OK is exactly one stored sample, under load, from several instances.
 *
 * Four processes of the built bundle model Botpress Cloud's serverless instances (no memory
 * shared); calls go to them round-robin, many at once, with the same name and labels. They
 * write through the fault proxy, which applies Mimir's rule for samples that share a
 * millisecond (a different value is refused, an equal one merged: both counted), to a
 * VictoriaMetrics with dedup on. For each load: every call is answered 200, the samples stored
 * are exactly the calls (and their values add up), nothing was merged or refused, and the
 * series count stays within the documented bound.
 *
 * Logs: the same four processes write Send Log, and Send Metric with its trail, to the Loki
 * stand-in (dev/loki.ts), which merges an entry equal to a stored one (same stream, nanosecond
 * and line) as Loki does and counts it. For each load: the entries stored are exactly the calls
 * answered OK, none merged but by a logged retry, and the streams stay within the documented
 * bound (service_name × botId × channel × version: one here).
 *
 * Each load is bounded by its number of calls and a deadline; the rate reached is printed,
 * not asserted (the machine is shared).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { triggerAction } from '../dev/botpress'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'
import { startLoki, type Loki } from '../dev/loki'
import { startVictoriaMetrics, type ExportedSeries, type VictoriaMetrics } from '../dev/servers'
import { INSTANCE_LABEL } from '../src/label-names'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy'

const PROCESSES = 4
const IN_FLIGHT = 64
/** A load lasts at least MIN_DURATION_MS and MIN_CALLS calls, and stops at MAX_CALLS or at the deadline. */
const MIN_CALLS = 5_000
const MIN_DURATION_MS = 4_000
const MAX_CALLS = 20_000
const LOAD_DEADLINE_MS = 90_000
const CONVERSATIONS = 200

let vm: VictoriaMetrics
let proxy: FaultProxy
let loki: Loki
let instances: IntegrationProcess[] = []
let configuration: Record<string, unknown>

interface LoadResult {
  readonly calls: number
  readonly ok: number
  readonly refused: string[]
  /** Log entries the load stored, and merged into one stored before. */
  readonly entries: number
  readonly merged: number
}

/** What one call writes: samples to the metrics endpoint, entries to the logs endpoint. */
interface PerCall {
  readonly samples: number
  readonly entries: number
}

/**
 * Calls `card` `IN_FLIGHT` at a time, sent to the instances in turn, until the load has lasted
 * MIN_DURATION_MS and made MIN_CALLS calls (or made MAX_CALLS). Checks that every sample it
 * wrote met Mimir's rule without a merge or a refusal (`perCall.samples` new samples per call
 * answered OK), and that the Loki stand-in stored `perCall.entries` new entries per call
 * answered OK, merging none but retried pushes.
 */
const load = async (
  card: string,
  inputFor: (call: number) => unknown,
  perCall: PerCall,
  config = configuration
): Promise<LoadResult> => {
  const before = proxy.samples()
  const retriesBefore = retries()
  const logsBefore = loki.counts()
  const logRetriesBefore = logRetries()
  const deadline = Date.now() + LOAD_DEADLINE_MS
  const started = performance.now()
  const more = (calls: number) =>
    calls < MAX_CALLS && Date.now() < deadline && (calls < MIN_CALLS || performance.now() - started < MIN_DURATION_MS)
  let calls = 0
  let ok = 0
  const refused: string[] = []
  const worker = async () => {
    while (more(calls)) {
      const call = calls++
      const answer = await triggerAction(instances[call % PROCESSES]!.url, config, card, inputFor(call))
      if (answer.status === 200) {
        ok++
      } else {
        refused.push(answer.text.slice(0, 300))
      }
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  const seconds = (performance.now() - started) / 1000
  console.log(
    `${card}: ${calls} calls over ${PROCESSES} instances, ${IN_FLIGHT} in flight, in ${seconds.toFixed(1)} s: ${Math.round(calls / seconds)} calls/s`
  )
  expect(calls, `the load stopped at its ${LOAD_DEADLINE_MS / 1000} s deadline`).toBeGreaterThanOrEqual(MIN_CALLS)
  const after = proxy.samples()
  const retried = retries() - retriesBefore
  if (retried > 0) {
    console.log(`${card}: ${retried} writes retried (the machine is busy); a retry merges with its first attempt`)
  }
  expect(after.refusedRequests - before.refusedRequests, 'requests refused for a reused millisecond').toBe(0)
  expect(
    after.merged - before.merged,
    'samples merged with an earlier one of the same millisecond'
  ).toBeLessThanOrEqual(retried * perCall.samples)
  expect(after.accepted - before.accepted).toBe(ok * perCall.samples)

  const logsAfter = loki.counts()
  const logsRetried = logRetries() - logRetriesBefore
  const entries = logsAfter.stored - logsBefore.stored
  const merged = logsAfter.duplicatesMerged - logsBefore.duplicatesMerged
  if (perCall.entries > 0) {
    console.log(
      `${card}: ${ok} answered OK, ${entries} log entries stored, ${merged} merged, ${logsRetried} log pushes retried; ${logsAfter.streams} streams`
    )
  }
  expect(merged, 'log entries merged with an earlier one of the same stream, nanosecond and line').toBeLessThanOrEqual(
    logsRetried * perCall.entries
  )
  expect(entries).toBe(ok * perCall.entries)
  return { calls, ok, refused, entries, merged }
}

/** How many times the instances logged `warning` so far. */
const logged = (warning: string): number =>
  instances.reduce((total, instance) => total + instance.output().split(warning).length - 1, 0)
/** Writes the instances retried so far: each logs a warning per retry. */
const retries = (): number => logged('Grafana Cloud write:')
const logRetries = (): number => logged('Grafana Cloud Logs write:')

/** The series matching `match` once they hold `expected` samples (VictoriaMetrics shows the last writes a moment late). */
const storedSeries = (match: string, expected: number): Promise<ExportedSeries[]> =>
  vm.exportWhen(match, (series) => samplesIn(series) >= expected)

const samplesIn = (series: ExportedSeries[]): number => series.reduce((total, s) => total + s.values.length, 0)
const sumOf = (series: ExportedSeries[]): number =>
  series.reduce((total, s) => total + s.values.reduce<number>((a, v) => a + Number(v), 0), 0)
const instancesIn = (series: ExportedSeries[]): Set<string> => new Set(series.map((s) => s.metric[INSTANCE_LABEL]!))

beforeAll(async () => {
  vm = await startVictoriaMetrics()
  proxy = await startFaultProxy(vm.url)
  proxy.script('load', [], 'forward')
  // One API key for both endpoints, as Grafana Cloud issues it.
  loki = await startLoki({ auth: { password: vm.password } })
  instances = await Promise.all(Array.from({ length: PROCESSES }, () => startIntegrationProcess()))
  configuration = {
    grafanaUrl: `${proxy.routeUrl('load')}/influx/write`,
    grafanaUserId: vm.username,
    apiKey: vm.password,
    includeConversationAndUserIds: false
  }
}, 120_000)

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.stop()))
  await loki?.stop()
  await proxy?.close()
  await vm?.stop()
})

const sendMetric =
  (name: string, value: (call: number) => number | undefined, conversation?: (call: number) => string) =>
  (call: number) => ({
    name,
    channel: 'webchat',
    botId: 'bot-load',
    version: '2.0.0',
    conversationId: conversation?.(call) ?? 'conv-1',
    userId: 'user-1',
    ...(value(call) === undefined ? {} : { value: value(call) })
  })

describe('Send Metric under load, from four instances', () => {
  test('IDs off, the same value: every OK is one sample, one series per instance', async () => {
    const result = await load(
      'sendMetric',
      sendMetric('load_constant', () => undefined),
      { samples: 1, entries: 0 }
    )
    expect(result.refused).toEqual([])
    expect(result.ok).toBe(result.calls)
    const series = await storedSeries('load_constant_metric', result.ok)
    expect(samplesIn(series)).toBe(result.ok)
    expect(sumOf(series)).toBe(result.ok)
    expect(series).toHaveLength(PROCESSES)
    expect(instancesIn(series).size).toBe(PROCESSES)
    expect(new Set(series.map((s) => JSON.stringify({ ...s.metric, [INSTANCE_LABEL]: '' })))).toHaveProperty('size', 1)
  })

  test('IDs off, a different value on every call: every OK is one sample, and the values add up', async () => {
    const result = await load(
      'sendMetric',
      sendMetric('load_values', (call) => call + 1),
      { samples: 1, entries: 0 }
    )
    expect(result.refused).toEqual([])
    const series = await storedSeries('load_values_metric', result.calls)
    expect(samplesIn(series)).toBe(result.calls)
    expect(sumOf(series)).toBe((result.calls * (result.calls + 1)) / 2)
    expect(series).toHaveLength(PROCESSES)
  })

  test('IDs on, conversations served by every instance: every OK is one sample, one series per conversation and instance', async () => {
    const result = await load(
      'sendMetric',
      sendMetric(
        'load_ids',
        () => 1,
        (call) => `conv-${Math.floor(call / PROCESSES) % CONVERSATIONS}`
      ),
      { samples: 1, entries: 0 },
      {
        ...configuration,
        includeConversationAndUserIds: true
      }
    )
    expect(result.refused).toEqual([])
    const series = await storedSeries('load_ids_metric', result.calls)
    expect(samplesIn(series)).toBe(result.calls)
    console.log(`IDs on: ${series.length} series for ${CONVERSATIONS} conversations, each served by every instance`)
    expect(new Set(series.map((s) => s.metric.conversationId)).size).toBe(CONVERSATIONS)
    expect(series).toHaveLength(CONVERSATIONS * PROCESSES)
  })
})

describe('Send Raw Data under load, the same series in every call', () => {
  const body =
    'load_raw,flow=cart amount=2.5,items=3i\nload_raw,flow=checkout amount=1\n# a comment\nload_raw_flag value=true'

  test('every OK is one sample per line and field, one series per instance', async () => {
    const result = await load('sendRawData', () => ({ data: body }), { samples: 4, entries: 0 })
    expect(result.refused).toEqual([])
    const calls = result.ok
    const amount = await storedSeries('load_raw_amount', 2 * calls)
    const items = await storedSeries('load_raw_items', calls)
    const flag = await storedSeries('load_raw_flag_value', calls)
    expect(samplesIn(amount)).toBe(2 * calls)
    expect(sumOf(amount)).toBe(3.5 * calls)
    expect(samplesIn(items)).toBe(calls)
    expect(sumOf(items)).toBe(3 * calls)
    expect(samplesIn(flag)).toBe(calls)
    expect(amount).toHaveLength(2 * PROCESSES)
    expect(instancesIn([...amount, ...items, ...flag]).size).toBe(PROCESSES)
  })
})

describe('Send LLM Usage under load, from four instances', () => {
  const usage = (call: number) => ({
    provider: 'openai',
    model: 'gpt-4o-mini',
    channel: 'webchat',
    botId: 'bot-load',
    version: '2.0.0',
    inputTokens: call + 1,
    outputTokens: 7,
    cost: 0.5,
    durationMs: 250
  })

  test(
    'the same labels on every call: each OK is one sample per series of the call, and the tokens add up',
    async () => {
      // The call's line stores operations, the duration and the cost; one line per token type.
      const result = await load('sendLlmUsage', usage, { samples: 5, entries: 0 })
      expect(result.refused).toEqual([])
      const calls = result.ok
      const operations = await storedSeries('gen_ai_client_operations', calls)
      const cost = await storedSeries('gen_ai_client_cost_usd', calls)
      const duration = await storedSeries('gen_ai_client_operation_duration_seconds', calls)
      const tokens = await storedSeries('gen_ai_client_token_usage', 2 * calls)
      const ofType = (type: string) => tokens.filter((s) => s.metric.gen_ai_token_type === type)
      expect(samplesIn(operations)).toBe(calls)
      expect(sumOf(operations)).toBe(calls)
      expect(samplesIn(cost)).toBe(calls)
      expect(sumOf(cost)).toBe(0.5 * calls)
      expect(samplesIn(duration)).toBe(calls)
      expect(sumOf(duration)).toBe(0.25 * calls)
      expect(samplesIn(ofType('input'))).toBe(calls)
      expect(sumOf(ofType('input'))).toBe((calls * (calls + 1)) / 2)
      expect(samplesIn(ofType('output'))).toBe(calls)
      expect(sumOf(ofType('output'))).toBe(7 * calls)
      expect(operations).toHaveLength(PROCESSES)
      expect(tokens).toHaveLength(2 * PROCESSES)
      expect(instancesIn([...operations, ...cost, ...duration, ...tokens]).size).toBe(PROCESSES)
    },
    LOAD_DEADLINE_MS + 30_000
  )
})

describe('Send Log under load, from four instances', () => {
  const logsConfiguration = () => ({ ...configuration, logsUrl: loki.url, logsUserId: loki.username })
  const STREAM = { service_name: 'botpress', botId: 'bot-load', channel: 'webchat', version: '2.0.0' }
  const streamsOfTheBot = () => loki.streams().filter((stream) => stream.labels.botId === 'bot-load')
  /** The instance a stored line names: every instance's lines differ, so none merges with another's. */
  const instancesOf = (card: string): Set<string> =>
    new Set(
      loki
        .entries(STREAM)
        .filter((entry) => entry.metadata.card === card)
        .map((entry) => (JSON.parse(entry.line) as { instance: string }).instance)
    )

  test(
    'the same line on every call: every OK is one stored entry, in one stream',
    async () => {
      const input = {
        message: 'Payment declined: card expired',
        level: 'warning',
        event: 'payment_declined',
        channel: 'webchat',
        botId: 'bot-load',
        version: '2.0.0',
        conversationId: 'conv-1',
        userId: 'user-1',
        attributes: { orderId: 'A-1042' }
      }
      const result = await load('sendLog', () => input, { samples: 0, entries: 1 }, logsConfiguration())
      expect(result.refused).toEqual([])
      expect(result.ok).toBe(result.calls)
      expect(result.entries).toBe(result.ok)
      // The stated bound: bots × channels × versions, one stream here, whatever the IDs and the load.
      const streams = streamsOfTheBot()
      expect(streams.map((stream) => stream.labels)).toEqual([STREAM])
      expect(loki.entries(STREAM).filter((entry) => entry.metadata.card === 'sendLog')).toHaveLength(result.ok)
      expect(instancesOf('sendLog').size).toBe(PROCESSES)
    },
    LOAD_DEADLINE_MS + 30_000
  )

  test(
    'Send Metric with its trail: every OK is one sample and one stored entry, the entries in the same stream',
    async () => {
      const config = { ...logsConfiguration(), logEveryEvent: true }
      const result = await load(
        'sendMetric',
        sendMetric('load_trail', () => undefined),
        { samples: 1, entries: 1 },
        config
      )
      expect(result.refused).toEqual([])
      expect(result.ok).toBe(result.calls)
      const series = await storedSeries('load_trail_metric', result.ok)
      expect(samplesIn(series)).toBe(result.ok)
      expect(result.entries).toBe(result.ok)
      expect(series).toHaveLength(PROCESSES)
      expect(streamsOfTheBot().map((stream) => stream.labels)).toEqual([STREAM])
      expect(loki.entries(STREAM).filter((entry) => entry.metadata.card === 'sendMetric')).toHaveLength(result.ok)
      expect(instancesOf('sendMetric')).toEqual(instancesIn(series))
    },
    LOAD_DEADLINE_MS + 30_000
  )
})
