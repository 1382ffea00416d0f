/**
 * Send LLM Usage: one LLM call's tokens, cost and duration, as series named after the
 * OpenTelemetry GenAI semantic conventions written the way Prometheus names them.
 *
 * A call writes one line for the call and one per known token count, all with the call's stamp
 * (src/sample-clock.ts). The lines write distinct series, so sharing the millisecond is safe:
 *
 *   gen_ai_client,<labels> operations=1,operation_duration_seconds=1.35,cost_usd=0.00024 <ms>
 *   gen_ai_client,<labels>,gen_ai_token_type=input token_usage=1234 <ms>
 *   gen_ai_client,<labels>,gen_ai_token_type=output token_usage=87 <ms>
 */
import type { WriteOptions } from './client'
import type { Configuration } from './config'
import { UserFacingError } from './errors'
import { cardLabels, checkSeriesKey, isUnrendered, textOf, type LabelContext } from './labels'
import { encodeLine, seriesKey } from './line-protocol/encode'
import { seriesName } from './line-protocol/names'
import { buildLogEntry } from './log-entry'
import type { LogEntry } from './loki'
import { decimalSum, numberField } from './number-field'
import { parseWith } from './parse'
import type { Stamp } from './sample-clock'
import { llmResponseSchema, type LlmResponse, type SendLlmUsageInput } from './schemas'
import { LLM_FIELDS, LLM_LABELS, LLM_MEASUREMENT, TOKEN_TYPE_LABEL } from './series-names'
import { sendCardEvent, trailDetails } from './trail'

const DEFAULT_OPERATION = 'chat'

/** The event name of an LLM call's log line in the trail. */
export const LLM_TRAIL_EVENT = 'llm_usage'
const JSON_HINT = 'e.g. {{JSON.stringify(workflow.llmOutput)}}'

/** What a flow gets back from Send LLM Usage. */
export interface LlmUsageResult {
  readonly seriesNames: string[]
  /** The labels of every line (token lines add gen_ai_token_type). */
  readonly labels: Readonly<Record<string, string>>
  readonly timestamp: number
}

export interface LlmUsageEvent extends LlmUsageResult {
  /** The write body: the call's line, then one line per token count. */
  readonly body: string
  readonly figures: Figures
}

const parseResponse = (text: string | undefined): LlmResponse => {
  if (text === undefined || text.trim() === '' || isUnrendered(text)) {
    return {}
  }
  if (text.trim() === '[object Object]') {
    throw new UserFacingError(`LLM response is the text "[object Object]": pass the output as JSON text, ${JSON_HINT}.`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new UserFacingError(
      `LLM response must be the LLM card's output as JSON text (${JSON_HINT}); the text does not parse (${(error as Error).message}).`
    )
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserFacingError(
      "LLM response must be the LLM card's output, a JSON object, not a list or a single value."
    )
  }
  return parseWith('LLM response', llmResponseSchema, parsed)
}

type Check = (what: string, value: number, given: unknown) => number

const shown = (given: unknown): string => JSON.stringify(String(given).slice(0, 40))

const tokenCount: Check = (what, value, given) => {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UserFacingError(`${what} must be a whole number of tokens, 0 or more (got ${shown(given)}).`)
  }
  return value
}

const dollars: Check = (what, value, given) => {
  if (!Number.isFinite(value) || value < 0) {
    throw new UserFacingError(`${what} must be a finite amount in US dollars, 0 or more (got ${shown(given)}).`)
  }
  return value
}

const milliseconds: Check = (what, value, given) => {
  if (!Number.isFinite(value) || value < 0) {
    throw new UserFacingError(`${what} must be a finite number of milliseconds, 0 or more (got ${shown(given)}).`)
  }
  return value
}

/** A number field of the card, checked; undefined when empty. */
const fromField = (title: string, given: number | string | undefined, check: Check): number | undefined => {
  const value = numberField(given)
  return value === undefined ? undefined : check(title, value, given)
}

/** A number the response holds, checked; undefined when it has none. */
const fromResponse = (path: string, value: number | null | undefined, check: Check): number | undefined =>
  value === undefined || value === null ? undefined : check(`LLM response ${path}`, value, value)

interface Figures {
  readonly inputTokens: number | undefined
  readonly outputTokens: number | undefined
  readonly costUsd: number | undefined
  readonly durationSeconds: number | undefined
}

/** The call's numbers: each field wins over the response, and every number given is checked. */
const figuresOf = (input: SendLlmUsageInput, response: LlmResponse): Figures => {
  const usage = response.usage
  const said = {
    inputTokens: fromResponse('usage.inputTokens', usage?.inputTokens, tokenCount),
    outputTokens: fromResponse('usage.outputTokens', usage?.outputTokens, tokenCount),
    inputCost: fromResponse('usage.inputCost', usage?.inputCost, dollars),
    outputCost: fromResponse('usage.outputCost', usage?.outputCost, dollars),
    cost: fromResponse('botpress.cost', response.botpress?.cost, dollars)
  }
  const inputTokens = fromField('Input tokens', input.inputTokens, tokenCount)
  const outputTokens = fromField('Output tokens', input.outputTokens, tokenCount)
  const cost = fromField('Cost', input.cost, dollars)
  const inputCost = fromField('Input cost', input.inputCost, dollars) ?? said.inputCost
  const outputCost = fromField('Output cost', input.outputCost, dollars) ?? said.outputCost
  const durationMs = fromField('Duration', input.durationMs, milliseconds)
  const parts = [inputCost, outputCost].filter((part) => part !== undefined)
  return {
    inputTokens: inputTokens ?? said.inputTokens,
    outputTokens: outputTokens ?? said.outputTokens,
    costUsd: cost ?? (parts.length > 0 ? decimalSum(parts) : said.cost),
    durationSeconds: durationMs === undefined ? undefined : durationMs / 1000
  }
}

const known = (values: Record<string, number | undefined>): Record<string, number> =>
  Object.fromEntries(Object.entries(values).filter((entry): entry is [string, number] => entry[1] !== undefined))

/** Builds the lines of one Send LLM Usage call, written as `stamp.instance` at `stamp.timestamp`. */
export const buildLlmUsageEvent = (input: SendLlmUsageInput, context: LabelContext, stamp: Stamp): LlmUsageEvent => {
  const response = parseResponse(input.response)
  const figures = figuresOf(input, response)
  const labels = cardLabels(input, context, stamp.instance, {
    [LLM_LABELS.provider]: textOf(input.provider) || (response.provider ?? ''),
    [LLM_LABELS.model]: textOf(input.model) || (response.model ?? ''),
    [LLM_LABELS.operation]: textOf(input.operation) || DEFAULT_OPERATION,
    [LLM_LABELS.stopReason]: textOf(input.stopReason) || (response.choices?.[0]?.stopReason ?? ''),
    [LLM_LABELS.errorType]: textOf(input.errorType),
    // Empty, so the call's own labels leave it out; named, so no extra label can take it.
    [TOKEN_TYPE_LABEL]: ''
  })

  const lines = [
    {
      tags: labels,
      values: {
        [LLM_FIELDS.operations]: 1,
        [LLM_FIELDS.duration]: figures.durationSeconds,
        [LLM_FIELDS.cost]: figures.costUsd
      }
    },
    { tags: { ...labels, [TOKEN_TYPE_LABEL]: 'input' }, values: { [LLM_FIELDS.tokens]: figures.inputTokens } },
    { tags: { ...labels, [TOKEN_TYPE_LABEL]: 'output' }, values: { [LLM_FIELDS.tokens]: figures.outputTokens } }
  ]
    .map(({ tags, values }) => ({ key: seriesKey(LLM_MEASUREMENT, tags), fields: known(values) }))
    .filter(({ fields }) => Object.keys(fields).length > 0)
  for (const { key, fields } of lines) {
    for (const field of Object.keys(fields)) {
      checkSeriesKey(key, field)
    }
  }
  const series = lines.flatMap(({ fields }) => Object.keys(fields).map((field) => seriesName(LLM_MEASUREMENT, field)))
  return {
    body: lines.map(({ key, fields }) => encodeLine(key, fields, stamp.timestamp)).join('\n'),
    figures,
    seriesNames: [...new Set(series)].sort(),
    labels,
    timestamp: stamp.timestamp
  }
}

/** The log line of an LLM call, for the trail: its labels and figures as metadata. */
const trailEntry = (input: SendLlmUsageInput, event: LlmUsageEvent, context: LabelContext, stamp: Stamp): LogEntry => {
  const { inputTokens, outputTokens, costUsd, durationSeconds } = event.figures
  const figures = known({
    gen_ai_usage_input_tokens: inputTokens,
    gen_ai_usage_output_tokens: outputTokens,
    cost_usd: costUsd,
    duration_seconds: durationSeconds
  })
  return buildLogEntry(
    {
      card: 'sendLlmUsage',
      level: event.labels[LLM_LABELS.errorType] === undefined ? 'info' : 'error',
      message: LLM_TRAIL_EVENT,
      event: LLM_TRAIL_EVENT,
      fields: input,
      details: trailDetails(
        event.labels,
        Object.fromEntries(Object.entries(figures).map(([name, value]) => [name, String(value)]))
      )
    },
    context,
    stamp
  )
}

/** Sends one LLM call's usage and returns what a flow can use. */
export const sendLlmUsage = (
  config: Configuration,
  input: SendLlmUsageInput,
  botId: string,
  options: WriteOptions = {}
): Promise<LlmUsageResult> =>
  sendCardEvent(config, botId, options, (context, stamp) => {
    const event = buildLlmUsageEvent(input, context, stamp)
    return {
      body: event.body,
      logEntry: () => trailEntry(input, event, context, stamp),
      result: { seriesNames: event.seriesNames, labels: event.labels, timestamp: event.timestamp }
    }
  })
