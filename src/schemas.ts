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
    .default(true)
    .title('Label events with conversation and user IDs')
    .describe(
      'Adds the conversationId and userId labels to Send Metric events. Every new conversation then creates new series, ' +
        'and Grafana Cloud caps active series (10k on the free tier): turn this off for busy bots.'
    )
    .placeholder('true'),
})

const templateText = (title: string, description: string, template: string) =>
  z.string().default(template).title(title).describe(description).placeholder(template)

export const sendMetricInputSchema = z.object({
  name: z
    .string()
    .title('Metric name')
    .describe(
      'What happened, e.g. flow_completed. No whitespace; characters outside A-Z, a-z, 0-9 and _ become _. ' +
        'Stored as the series <name>_metric.'
    )
    .placeholder('flow_completed'),
  channel: templateText('Channel', 'The channel label (webchat, whatsapp, …).', '{{event.integration}}'),
  botId: templateText('Bot ID', 'The botId label; the bot running the card when empty.', '{{event.botId}}'),
  conversationId: templateText('Conversation ID', 'The conversationId label.', '{{event.conversationId}}'),
  userId: templateText('User ID', 'The userId label.', '{{event.userId}}'),
  version: z
    .union([z.string(), z.number()], { errorMap: () => ({ message: 'must be text or a number, e.g. 1.4.2' }) })
    .optional()
    .title('Bot version')
    .describe('The version label: a number or text such as 1.4.2, to compare releases.')
    .placeholder('1.4.2'),
  value: z
    .union([z.number(), z.string()], { errorMap: () => ({ message: 'must be a finite number or numeric text, e.g. 250.5' }) })
    .optional()
    .title('Value')
    .describe('The sample value: a finite number, 1 when empty. Use it for a latency, a score or an amount.')
    .placeholder('1'),
  tags: z
    .union([z.record(z.union([z.string(), z.number(), z.boolean()])), z.string()], {
      errorMap: () => ({ message: 'must be a JSON object of string, number or boolean values (or its JSON text)' }),
    })
    .optional()
    .title('Extra labels')
    .describe(
      'More labels as a JSON object of string, number or boolean values, e.g. {"flow": "checkout", "step": 3}. ' +
        'Keys follow the same rules as the metric name and cannot replace a built-in label.'
    )
    .placeholder('{"flow": "checkout"}'),
})

export const sendMetricOutputSchema = z.object({
  seriesName: z.string().title('Series name').describe('The Prometheus series that stores the event.'),
  labels: z.record(z.string()).title('Labels').describe('The labels sent, as Grafana stores them.'),
  timestamp: z.number().title('Timestamp').describe('The event time in milliseconds since the Unix epoch.'),
})

export const sendRawDataInputSchema = z.object({
  data: z
    .string()
    .title('Line protocol')
    .describe(
      'One or more lines of InfluxDB line protocol without timestamps (the integration adds them). ' +
        'Lines starting with # and blank lines are skipped.'
    )
    .placeholder('checkout,flow=cart,step=payment amount=35.2,items=3i'),
})

export const sendRawDataOutputSchema = z.object({
  linesSent: z.number().title('Lines sent').describe('How many lines were sent.'),
  seriesNames: z
    .array(z.string())
    .title('Series names')
    .describe('The Prometheus series Grafana stores: <measurement>_<field>, or <measurement> for a field named value.'),
  timestamp: z.number().title('Timestamp').describe('The time given to every line, in milliseconds since the Unix epoch.'),
})

export type SendMetricInput = z.infer<typeof sendMetricInputSchema>
