// Grafana Cloud for Botpress: paste into an Execute Code card of the Error Workflow (Studio:
// Workflows > Error), where every unexpected error goes: no hook runs on errors. Records each error
// as one bot_error event: the dashboard and the error-rate alert read it.
const grafana = actions['grafana-cloud']
// Your bot's version, e.g. '1.4.2', to compare releases on the dashboard; '' leaves the label out.
const VERSION = ''

try {
  await grafana.sendMetric({
    name: 'bot_error',
    channel: event.integration,
    botId: event.botId,
    conversationId: event.conversationId,
    userId: event.userId,
    version: VERSION
  })
} catch (error) {
  // A failed write must not hide the error message the workflow shows next.
  console.warn(`Grafana Cloud: ${error.message}`)
}
