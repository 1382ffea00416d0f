import { oneLine, scrubSecrets } from './secrets'

/** A failure whose message is written for the bot builder: what went wrong and what to do. */
export class UserFacingError extends Error {
  public override readonly name = 'UserFacingError'
}

const MAX_UNEXPECTED_TEXT = 300

/**
 * The message a failed operation reports: a user-facing message as it is; anything else with
 * its own message, scrubbed of every form of the API key in `configuration` (an error can
 * quote the request or the configuration it failed on).
 */
export const describeFailure = (what: string, error: unknown, configuration: unknown): string => {
  if (error instanceof UserFacingError) {
    return `${what}: ${error.message}`
  }
  const { grafanaUserId, apiKey } = (configuration ?? {}) as { grafanaUserId?: unknown; apiKey?: unknown }
  const text = error instanceof Error ? `${error.name}: ${error.message}` : typeof error
  const scrubbed = typeof apiKey === 'string' ? scrubSecrets(text, String(grafanaUserId ?? ''), apiKey) : text
  return `${what}: an unexpected error occurred in the integration (${oneLine(scrubbed, MAX_UNEXPECTED_TEXT)}).`
}
