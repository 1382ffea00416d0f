/**
 * The integration's schemas, declared once: `integration.definition.ts` publishes them and the
 * handlers parse with them (sdk 0.10 neither validates inputs nor applies defaults).
 */
import { z } from '@botpress/sdk'

export const configurationSchema = z.object({
  grafanaUrl: z
    .string()
    .title('Endpoint URL')
    .describe(
      'The InfluxDB write endpoint of your Grafana Cloud stack, from "Connections > Add new connection > HTTP Metrics". ' +
        'The bare host or the full URL ending in /api/v1/push/influx/write; it starts with https://influx-.'
    )
    .placeholder('https://influx-prod-13-prod-us-east-0.grafana.net/api/v1/push/influx/write'),
  grafanaUserId: z
    .string()
    .title('User ID')
    .describe('The numeric user (instance) ID shown next to the endpoint URL on the HTTP Metrics page.')
    .placeholder('1234567'),
  apiKey: z
    .string()
    .secret()
    .title('API key')
    .describe('A Grafana Cloud access policy token with the metrics:write scope.')
    .placeholder('glc_eyJvIjoiMTIzNDU2Ii…'),
  includeConversationAndUserIds: z
    .boolean()
    .default(false)
    .title('Label events with conversation and user IDs')
    .describe(
      'Off by default. On: Send Metric and Send LLM Usage label their samples with conversationId and userId, so every new ' +
        'conversation creates new series, and Grafana Cloud caps active series (10k on the free tier): keep it off for busy bots. ' +
        'With logs configured, "Also log every event" keeps both IDs on each event\'s log line without any new series.'
    )
    .placeholder('false'),
  logsUrl: z
    .string()
    .optional()
    .title('Logs endpoint URL')
    .describe(
      'Optional: your stack\'s Grafana Cloud Logs (Loki) URL, from the stack\'s Loki "Details" page. It starts with https://logs-; ' +
        'the host alone or the full URL ending in /loki/api/v1/push. Empty: logs are off (Send Log fails, no event is logged).'
    )
    .placeholder('https://logs-prod-006.grafana.net'),
  logsUserId: z
    .string()
    .optional()
    .title('Logs user ID')
    .describe(
      'The numeric user ID shown next to the Loki URL: it is not the metrics User ID. The API key then needs logs:write as well as metrics:write.'
    )
    .placeholder('654321'),
  logEveryEvent: z
    .boolean()
    .default(false)
    .title('Also log every event')
    .describe(
      'With logs configured: Send Metric and Send LLM Usage also write their event as a log line, with the conversation and user IDs ' +
        'as structured metadata (no new series), so one conversation can be followed even with the ID labels off.'
    )
    .placeholder('false')
})

const templateText = (title: string, description: string, template: string) =>
  z.string().default(template).title(title).describe(description).placeholder(template)

/** The fields every card labels its samples with (src/labels.ts), in the order Studio shows them. */
const builtInLabelFields = {
  channel: templateText('Channel', 'The channel label (webchat, whatsapp, …).', '{{event.integration}}'),
  botId: templateText('Bot ID', 'The botId label; the bot running the card when empty.', '{{event.botId}}'),
  conversationId: templateText('Conversation ID', 'The conversationId label.', '{{event.conversationId}}'),
  userId: templateText('User ID', 'The userId label.', '{{event.userId}}'),
  version: z
    .union([z.string(), z.number()], { errorMap: () => ({ message: 'must be text or a number, e.g. 1.4.2' }) })
    .optional()
    .title('Bot version')
    .describe('The version label: a number or text such as 1.4.2, to compare releases.')
    .placeholder('1.4.2')
}

const extraLabels = (description: string, placeholder: string) =>
  z
    .union([z.record(z.union([z.string(), z.number(), z.boolean()])), z.string()], {
      errorMap: () => ({ message: 'must be a JSON object of string, number or boolean values (or its JSON text)' })
    })
    .optional()
    .title('Extra labels')
    .describe(description)
    .placeholder(placeholder)

export const sendMetricInputSchema = z.object({
  name: z
    .string()
    .title('Metric name')
    .describe(
      'What happened, e.g. flow_completed. No whitespace; characters outside A-Z, a-z, 0-9 and _ become _. ' +
        'Stored as the series <name>_metric.'
    )
    .placeholder('flow_completed'),
  ...builtInLabelFields,
  value: z
    .union([z.number(), z.string()], {
      errorMap: () => ({ message: 'must be a finite number or numeric text, e.g. 250.5' })
    })
    .optional()
    .title('Value')
    .describe('The sample value: a finite number, 1 when empty. Use it for a latency, a score or an amount.')
    .placeholder('1'),
  tags: extraLabels(
    'More labels as a JSON object of string, number or boolean values, e.g. {"flow": "checkout", "step": 3}. ' +
      'Keys follow the same rules as the metric name and cannot replace a built-in label.',
    '{"flow": "checkout"}'
  )
})

export const sendMetricOutputSchema = z.object({
  seriesName: z.string().title('Series name').describe('The Prometheus series that stores the event.'),
  labels: z.record(z.string()).title('Labels').describe('The labels sent, as Grafana stores them.'),
  timestamp: z.number().title('Timestamp').describe('The event time in milliseconds since the Unix epoch.')
})

export const sendRawDataInputSchema = z.object({
  data: z
    .string()
    .title('Line protocol')
    .describe(
      'One or more lines of InfluxDB line protocol without timestamps (the integration adds them). ' +
        'Lines starting with # and blank lines are skipped.'
    )
    .placeholder('checkout,flow=cart,step=payment amount=35.2,items=3i')
})

export const sendRawDataOutputSchema = z.object({
  linesSent: z.number().title('Lines sent').describe('How many lines were sent.'),
  seriesNames: z
    .array(z.string())
    .title('Series names')
    .describe('The Prometheus series Grafana stores: <measurement>_<field>, or <measurement> for a field named value.'),
  timestamp: z
    .number()
    .title('Timestamp')
    .describe('The time given to every line, in milliseconds since the Unix epoch.')
})

const optionalText = (title: string, description: string, placeholder: string) =>
  z.string().optional().title(title).describe(description).placeholder(placeholder)

const optionalNumber = (title: string, description: string, placeholder: string) =>
  z
    .union([z.number(), z.string()], { errorMap: () => ({ message: 'must be a number or numeric text, e.g. 250' }) })
    .optional()
    .title(title)
    .describe(description)
    .placeholder(placeholder)

export const sendLlmUsageInputSchema = z.object({
  response: z
    .preprocess(
      // Studio has no form for an input that is a whole object, so the field is published as
      // text; an object handed over by code is read as its JSON text.
      (value) => (typeof value === 'object' && value !== null ? JSON.stringify(value) : value),
      z.string({ errorMap: () => ({ message: "must be the LLM card's output: its JSON text, or the object itself" }) })
    )
    .optional()
    .title('LLM response')
    .describe(
      "The LLM card's whole output as JSON text, e.g. {{JSON.stringify(workflow.llmOutput)}} (Studio shows this field as text; " +
        'code may pass the object itself). The provider, model, stop reason, token counts and costs are read from it; ' +
        'message content is never stored. The fields below override what it says.'
    )
    .placeholder('{{JSON.stringify(workflow.llmOutput)}}'),
  provider: optionalText(
    'Provider',
    "The gen_ai_provider_name label, e.g. openai; the response's provider when empty.",
    'openai'
  ),
  model: optionalText(
    'Model',
    "The gen_ai_request_model label, e.g. gpt-4o-mini; the response's model when empty.",
    'gpt-4o-mini'
  ),
  operation: z
    .string()
    .default('chat')
    .title('Operation')
    .describe('The gen_ai_operation_name label: chat, text_completion, embeddings, …; chat when empty.')
    .placeholder('chat'),
  inputTokens: optionalNumber(
    'Input tokens',
    "Tokens the model read: a whole number, 0 or more; the response's when empty.",
    '1200'
  ),
  outputTokens: optionalNumber(
    'Output tokens',
    "Tokens the model wrote: a whole number, 0 or more; the response's when empty.",
    '85'
  ),
  cost: optionalNumber(
    'Cost (USD)',
    "The total cost of the call in US dollars, 0 or more. When empty: input cost + output cost, else the response's botpress.cost.",
    '0.00023'
  ),
  inputCost: optionalNumber(
    'Input cost (USD)',
    "The cost of the input tokens in US dollars; the response's usage.inputCost when empty.",
    '0.00018'
  ),
  outputCost: optionalNumber(
    'Output cost (USD)',
    "The cost of the output tokens in US dollars; the response's usage.outputCost when empty.",
    '0.00005'
  ),
  durationMs: optionalNumber(
    'Duration (ms)',
    'How long the call took, in milliseconds, 0 or more: measure it around the LLM card. Stored in seconds.',
    '1350'
  ),
  stopReason: optionalText(
    'Stop reason',
    "The gen_ai_response_finish_reason label: stop, max_tokens, tool_calls, content_filter, other; the first choice's stopReason when empty.",
    'stop'
  ),
  errorType: optionalText(
    'Error type',
    'For a failed call: the error_type label, e.g. timeout or rate_limited. Empty for a call that succeeded.',
    'timeout'
  ),
  ...builtInLabelFields,
  tags: extraLabels(
    'More labels as a JSON object of string, number or boolean values, e.g. {"flow": "support", "node": "answer"}. ' +
      'Keys follow the same rules as a metric name and cannot replace a label the card sets itself.',
    '{"flow": "support"}'
  )
})

export const sendLlmUsageOutputSchema = z.object({
  seriesNames: z
    .array(z.string())
    .title('Series names')
    .describe(
      'The Prometheus series written for this call, e.g. gen_ai_client_token_usage and gen_ai_client_cost_usd.'
    ),
  labels: z
    .record(z.string())
    .title('Labels')
    .describe(
      'The labels every series of the call carries, as Grafana stores them; token usage adds gen_ai_token_type.'
    ),
  timestamp: z
    .number()
    .title('Timestamp')
    .describe('The time of every sample of the call, in milliseconds since the Unix epoch.')
})

/**
 * What Send LLM Usage reads from an LLM card's output (botpress/botpress
 * `packages/common/src/llm/schemas.ts`, GenerateContentOutputSchema). Everything else, message
 * content included, is stripped by the parse and never reaches a label.
 */
export const llmResponseSchema = z.object({
  provider: z.string().nullish(),
  model: z.string().nullish(),
  choices: z.array(z.object({ stopReason: z.string().nullish() })).nullish(),
  usage: z
    .object({
      inputTokens: z.number().nullish(),
      inputCost: z.number().nullish(),
      outputTokens: z.number().nullish(),
      outputCost: z.number().nullish()
    })
    .nullish(),
  botpress: z.object({ cost: z.number().nullish() }).nullish()
})

export const LOG_LEVELS = ['critical', 'error', 'warning', 'info', 'debug'] as const

export const sendLogInputSchema = z.object({
  message: z
    .string()
    .title('Message')
    .describe('The log line: any text, stored exactly (newlines, quotes and emoji included), up to 256 KB.')
    .placeholder('Payment declined: card expired'),
  level: z
    .enum(LOG_LEVELS)
    .default('info')
    .title('Level')
    .describe(
      'critical, error, warning, info or debug: Grafana colours the line by it (detected_level). info when empty.'
    )
    .placeholder('info'),
  event: optionalText(
    'Event',
    'A short name for what happened, e.g. payment_declined (the metric-name rules: no whitespace). Stored as the event metadata.',
    'payment_declined'
  ),
  ...builtInLabelFields,
  attributes: z
    .union([z.record(z.union([z.string(), z.number()])), z.string()], {
      errorMap: () => ({ message: 'must be a JSON object of string or number values (or its JSON text)' })
    })
    .optional()
    .title('Attributes')
    .describe(
      'More details as a JSON object of text or number values, e.g. {"orderId": "A-1042", "amount": 35.2}: stored with the line as ' +
        'structured metadata (filterable, no new stream). At most 20; names follow the label-name rules.'
    )
    .placeholder('{"orderId": "A-1042"}')
})

export const sendLogOutputSchema = z.object({
  streamLabels: z
    .record(z.string())
    .title('Stream labels')
    .describe('The indexed labels of the stream the line was written to (service_name, botId, channel, version).'),
  metadataKeys: z
    .array(z.string())
    .title('Metadata keys')
    .describe('The structured metadata stored with the line (conversationId, userId, event, attributes).'),
  timestamp: z
    .string()
    .title('Timestamp')
    .describe('The time of the line in nanoseconds since the Unix epoch, as Loki stores it.')
})

export type SendLogInput = z.infer<typeof sendLogInputSchema>
export type SendMetricInput = z.infer<typeof sendMetricInputSchema>
export type SendLlmUsageInput = z.infer<typeof sendLlmUsageInputSchema>
export type LlmResponse = z.infer<typeof llmResponseSchema>
