/**
 * Calls an integration exactly as Botpress Cloud does: `POST /` with the operation, bot and
 * integration headers and the configuration as base64 JSON.
 */
export interface IntegrationAnswer {
  readonly status: number
  readonly body: unknown
  readonly text: string
}

export type Operation = 'register' | 'unregister' | 'action_triggered' | 'ping'

export interface CallOptions {
  readonly botId?: string
  readonly body?: unknown
}

export const headersFor = (operation: Operation, configuration: unknown, botId: string): Record<string, string> => ({
  'content-type': 'application/json',
  'x-bp-operation': operation,
  'x-bot-id': botId,
  'x-bot-user-id': 'user-of-bot',
  'x-integration-id': 'integration-grafana-cloud',
  'x-webhook-id': 'webhook-1',
  'x-bp-configuration': Buffer.from(JSON.stringify(configuration)).toString('base64')
})

/** Sends one operation to an integration served at `baseUrl` (e.g. by the bundle's `start(port)`). */
export const callIntegration = async (
  baseUrl: string,
  operation: Operation,
  configuration: unknown,
  options: CallOptions = {}
): Promise<IntegrationAnswer> => {
  const response = await fetch(`${baseUrl}/`, {
    method: 'POST',
    headers: headersFor(operation, configuration, options.botId ?? 'bot-test'),
    body: JSON.stringify(options.body ?? {}),
    signal: AbortSignal.timeout(60_000)
  })
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // Not every answer is JSON (health checks, crashes): keep the text.
  }
  return { status: response.status, body, text }
}

/** Triggers an action and returns its answer. */
export const triggerAction = (baseUrl: string, configuration: unknown, type: string, input: unknown, botId?: string) =>
  callIntegration(baseUrl, 'action_triggered', configuration, { body: { type, input }, botId })
