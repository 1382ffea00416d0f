import { IntegrationDefinition } from '@botpress/sdk'
import {
  configurationSchema,
  sendMetricInputSchema,
  sendMetricOutputSchema,
  sendLlmUsageInputSchema,
  sendLlmUsageOutputSchema,
  sendLogInputSchema,
  sendLogOutputSchema,
  sendRawDataInputSchema,
  sendRawDataOutputSchema
} from './src/schemas'

export default new IntegrationDefinition({
  name: 'grafana-cloud',
  version: '1.0.0',
  title: 'Grafana Cloud Metrics & Logs',
  description:
    "Sends your bot's events, LLM usage (tokens, cost, latency) and logs to Grafana Cloud, with a ready dashboard and alerts. Not the Grafana integration, which manages existing dashboards and alerts and sends no data.",
  readme: 'hub.md',
  icon: 'icon.svg',
  configuration: {
    schema: configurationSchema
  },
  actions: {
    sendMetric: {
      title: 'Send Metric',
      description:
        'Records one event as the series <name>_metric, labelled with the channel, bot, conversation, user and bot version.',
      input: { schema: sendMetricInputSchema },
      output: { schema: sendMetricOutputSchema }
    },
    sendRawData: {
      title: 'Send Raw Data',
      description:
        'Sends your own InfluxDB line protocol (without timestamps), validated line by line before anything is sent.',
      input: { schema: sendRawDataInputSchema },
      output: { schema: sendRawDataOutputSchema }
    },
    sendLog: {
      title: 'Send Log',
      description:
        "Writes one line to Grafana Cloud Logs with its level, the conversation and user IDs and your attributes as structured metadata (no new stream per conversation). Needs the integration's logs settings.",
      input: { schema: sendLogInputSchema },
      output: { schema: sendLogOutputSchema }
    },
    sendLlmUsage: {
      title: 'Send LLM Usage',
      description:
        "Records an LLM call's tokens, cost and duration, by provider and model, from the LLM card's output: the series gen_ai_client_token_usage, gen_ai_client_cost_usd, gen_ai_client_operation_duration_seconds and gen_ai_client_operations.",
      input: { schema: sendLlmUsageInputSchema },
      output: { schema: sendLlmUsageOutputSchema }
    }
  }
})
