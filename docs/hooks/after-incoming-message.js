// Grafana Cloud for Botpress: paste into an After Incoming Message hook (Studio: Hooks > Create Hook).
// Records each message the bot receives as one message_received event: the dashboard's traffic and
// the alerts for silence, error rate and traffic drop read it. With the integration's logs settings
// and "Also log every event" on, each event is also a line of the conversation's trail.
const grafana = actions['grafana-cloud']
// Your bot's version, e.g. '1.4.2', to compare releases on the dashboard; '' leaves the label out.
const VERSION = ''
// true also writes the message text to Grafana Cloud Logs (needs the logs settings). Off by default:
// the text can hold personal data, and the trail already has the event, its time and the IDs.
const LOG_MESSAGE_TEXT = false

const labels = {
  channel: event.integration,
  botId: event.botId,
  conversationId: event.conversationId,
  userId: event.userId,
  version: VERSION
}
try {
  await grafana.sendMetric({ name: 'message_received', ...labels })
  if (LOG_MESSAGE_TEXT) {
    await grafana.sendLog({ message: event.preview, event: 'message_received', ...labels })
  }
} catch (error) {
  // A failed write must not stop the bot: it shows in the bot's logs instead.
  console.warn(`Grafana Cloud: ${error.message}`)
}
