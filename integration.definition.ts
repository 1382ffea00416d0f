import { IntegrationDefinition } from '@botpress/sdk'
import {
  configurationSchema,
  sendMetricInputSchema,
  sendMetricOutputSchema,
  sendRawDataInputSchema,
  sendRawDataOutputSchema,
} from './src/schemas'

export default new IntegrationDefinition({
  name: 'grafana-cloud',
  version: '1.0.0',
  title: 'Grafana Cloud',
  description: "Send your bot's events and metrics to Grafana Cloud, labelled by channel, bot, conversation and version.",
  readme: 'hub.md',
  icon: 'icon.svg',
  configuration: {
    schema: configurationSchema,
  },
  actions: {
    sendMetric: {
      title: 'Send Metric',
      description: 'Records one event as the series <name>_metric, labelled with the channel, bot, conversation, user and bot version.',
      input: { schema: sendMetricInputSchema },
      output: { schema: sendMetricOutputSchema },
    },
    sendRawData: {
      title: 'Send Raw Data',
      description: 'Sends your own InfluxDB line protocol (without timestamps), validated line by line before anything is sent.',
      input: { schema: sendRawDataInputSchema },
      output: { schema: sendRawDataOutputSchema },
    },
  },
})
