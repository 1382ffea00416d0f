/**
 * The one path from a failure to the message a bot builder reads: what went wrong and what to
 * do, never the API key.
 */
import type { AxiosError } from 'axios'
import { DeliveryError } from './client'
import { LineProtocolError } from './line-protocol/error'
import { attemptsMade, isLostConnection, isTimeout } from './retry-policy'
import { oneLine, scrubSecrets } from './secrets'

/** A refusal written for the bot builder: what went wrong and what to do. */
export class UserFacingError extends Error {
  public override readonly name = 'UserFacingError'
}

const MAX_UNEXPECTED_TEXT = 300
const MAX_RESPONSE_TEXT = 300

/** What the server said, on one line and short, scrubbed in case it echoes the credentials. */
const responseText = (error: AxiosError, { endpoint }: DeliveryError): string => {
  const data = error.response?.data
  const text = typeof data === 'string' ? data : data === undefined ? '' : JSON.stringify(data)
  return oneLine(scrubSecrets(text, endpoint.userId, endpoint.apiKey), MAX_RESPONSE_TEXT)
}

/** What a failed write met, and what to do about it. */
const deliveryFailure = (failure: DeliveryError): string => {
  const { endpoint, policy } = failure
  const host = new URL(endpoint.url).host
  const error = failure.axiosError
  if (error === undefined) {
    return `Sending to ${host} failed unexpectedly: ${String((failure.failure as Error)?.message ?? failure.failure)}`
  }
  const status = error.response?.status
  const said = responseText(error, failure)
  const saidText = said === '' ? '' : ` Grafana said: "${said}"`
  const attempts = attemptsMade(error)
  const after = attempts === 1 ? '' : ` after ${attempts} attempts`
  if (status === undefined) {
    if (isTimeout(error)) {
      return `No answer from ${host} within ${policy.attemptTimeoutMs / 1000} s${after}. Grafana Cloud may be slow or unreachable; the event was not confirmed.`
    }
    if (isLostConnection(error)) {
      return `The connection to ${host} was lost (${error.code})${after}: the event may have been stored (once at most) or not. Check Grafana Cloud's status if it keeps happening.`
    }
    return `Could not reach ${host} (${error.code ?? 'network error'})${after}. Check the ${endpoint.urlField} and that the host is up.`
  }
  if (status === 401 || status === 403) {
    return `Grafana refused the credentials (${status}). Check the ${endpoint.userIdField} and the API key in the integration's configuration; the key needs the ${endpoint.scope} scope.${saidText}`
  }
  if (status === 404) {
    return `There is no ${endpoint.what} at ${endpoint.url} (404). Use ${endpoint.urlAdvice}.${saidText}`
  }
  if (status === 413) {
    return `The data is too large for Grafana (413): send fewer lines per card.${saidText}`
  }
  if (status === 429) {
    return `Grafana Cloud is rate limiting this stack (429)${after}: the event was not stored. Send less often, or check the stack's limits (active series, samples per second).${saidText}`
  }
  if (status >= 500) {
    return `Grafana Cloud is unavailable (${status})${after}: the event was not stored. Try again later.${saidText}`
  }
  if (status === 400) {
    return `Grafana rejected the data (400): nothing was stored.${saidText}`
  }
  return `Grafana answered ${status}${after}: the event was not stored.${saidText}`
}

/**
 * Whether a failed write may have been stored all the same: its last attempt went out and no
 * answer came back (a timeout, a lost connection), or it failed in a way nobody foresaw. An
 * answer, even an error, or a connection never made, says it was not.
 */
export const mayHaveBeenStored = (failure: DeliveryError): boolean => {
  const error = failure.axiosError
  if (error === undefined) {
    return true
  }
  return error.response === undefined && (isTimeout(error) || isLostConnection(error))
}

/**
 * The message a failed operation reports: a refusal as it is; a failed write as what the
 * endpoint said; anything else with its own message, scrubbed of every form of the API key in
 * `configuration` (an error can quote the request or the configuration it failed on).
 */
export const describeFailure = (what: string, error: unknown, configuration: unknown): string => {
  if (error instanceof UserFacingError) {
    return `${what}: ${error.message}`
  }
  if (error instanceof LineProtocolError) {
    return `${what}: Invalid line protocol, nothing was sent: ${error.message}`
  }
  if (error instanceof DeliveryError) {
    return `${what}: ${deliveryFailure(error)}${error.note === '' ? '' : ` ${error.note}`}`
  }
  const { grafanaUserId, apiKey } = (configuration ?? {}) as { grafanaUserId?: unknown; apiKey?: unknown }
  const text = error instanceof Error ? `${error.name}: ${error.message}` : typeof error
  const scrubbed = typeof apiKey === 'string' ? scrubSecrets(text, String(grafanaUserId ?? ''), apiKey) : text
  return `${what}: an unexpected error occurred in the integration (${oneLine(scrubbed, MAX_UNEXPECTED_TEXT)}).`
}
