// Grafana Cloud for Botpress: paste into a Before Outgoing Message hook (Studio: Hooks > Create Hook).
// Records each message the bot sends as one response_latency event, its value the milliseconds from
// the user's message (event.createdOn) to this one (outgoingEvent.createdOn): the dashboard's value
// panels and the slow-responses alert read it, and its count is the number of messages sent.
const grafana = actions['grafana-cloud']
// Your bot's version, e.g. '1.4.2', to compare releases on the dashboard; '' leaves the label out.
const VERSION = ''
// true also writes the message text to Grafana Cloud Logs (needs the logs settings). Off by default:
// the text can hold personal data, and the trail already has the event, its time and the IDs.
const LOG_MESSAGE_TEXT = false

const latencyMs = new Date(outgoingEvent.createdOn).getTime() - new Date(event.createdOn).getTime()
const labels = {
  channel: event.integration,
  botId: event.botId,
  conversationId: event.conversationId,
  userId: event.userId,
  version: VERSION
}
try {
  // A message with no user message before it (one the bot starts itself) has no response time.
  if (Number.isFinite(latencyMs) && latencyMs >= 0) {
    await grafana.sendMetric({ name: 'response_latency', value: latencyMs, ...labels })
  }
  if (LOG_MESSAGE_TEXT) {
    await grafana.sendLog({ message: outgoingEvent.preview, event: 'message_sent', ...labels })
  }
} catch (error) {
  // A failed write must not stop the answer: it shows in the bot's logs instead.
  console.warn(`Grafana Cloud: ${error.message}`)
}
