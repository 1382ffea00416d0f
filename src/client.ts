/**
 * Delivery to Grafana's influx write endpoint: one POST of line protocol, retried per the
 * retry policy, and every failure described for the bot builder without the API key.
 */
import type { AxiosError, AxiosInstance } from 'axios'
// require, not import: esbuild would bundle axios' ESM sources beside the CommonJS build that
// @botpress/client already brings, a second copy of axios (+90 KB) in every cold start.
import axios = require('axios')
import axiosRetry from 'axios-retry'
import type { Configuration } from './config'
import { UserFacingError } from './errors'
import { deliveryPolicy, retryOptions, type RetryPolicy } from './retry-policy'
import { oneLine, scrubSecrets } from './secrets'

interface DeliveryLog {
  warn(message: string): void
}

export interface WriteOptions {
  readonly policy?: RetryPolicy
  readonly log?: DeliveryLog
}

const http: AxiosInstance = axios.create({
  // The body is line protocol already; axios must not touch it.
  transformRequest: [(data: string) => data],
  responseType: 'text',
  maxRedirects: 0
})
axiosRetry(http)

const MAX_RESPONSE_TEXT = 300

/** What the server said, on one line and short, with the credentials scrubbed in case it echoes them. */
const responseText = (error: AxiosError, config: Configuration): string => {
  const data = error.response?.data
  const text = typeof data === 'string' ? data : data === undefined ? '' : JSON.stringify(data)
  return oneLine(scrubSecrets(text, config.userId, config.apiKey), MAX_RESPONSE_TEXT)
}

const attemptsText = (error: AxiosError): string => {
  const attempts = (error.config?.['axios-retry']?.retryCount ?? 0) + 1
  return attempts === 1 ? '' : ` after ${attempts} attempts`
}

/** Turns a failed write into a message that says what went wrong and what to do. */
const describeWriteFailure = (error: unknown, config: Configuration, policy: RetryPolicy): UserFacingError => {
  const host = new URL(config.writeUrl).host
  if (!axios.isAxiosError(error)) {
    return new UserFacingError(`Sending to ${host} failed unexpectedly: ${String((error as Error)?.message ?? error)}`)
  }
  const status = error.response?.status
  const said = responseText(error, config)
  const saidText = said === '' ? '' : ` Grafana said: "${said}"`
  const attempts = attemptsText(error)
  if (status === undefined) {
    if (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT') {
      return new UserFacingError(
        `No answer from ${host} within ${policy.attemptTimeoutMs / 1000} s${attempts}. Grafana Cloud may be slow or unreachable; the event was not confirmed.`
      )
    }
    if (error.code === 'ECONNRESET' || error.code === 'EPIPE') {
      return new UserFacingError(
        `The connection to ${host} was lost (${error.code})${attempts}: the event may have been stored (once at most) or not. Check Grafana Cloud's status if it keeps happening.`
      )
    }
    return new UserFacingError(
      `Could not reach ${host} (${error.code ?? 'network error'})${attempts}. Check the Endpoint URL and that the host is up.`
    )
  }
  if (status === 401 || status === 403) {
    return new UserFacingError(
      `Grafana refused the credentials (${status}). Check the User ID and the API key in the integration's configuration; the key needs the metrics:write scope.${saidText}`
    )
  }
  if (status === 404) {
    return new UserFacingError(
      `There is no influx write endpoint at ${config.writeUrl} (404). Use the URL starting with https://influx- from Grafana Cloud's HTTP Metrics page.${saidText}`
    )
  }
  if (status === 413) {
    return new UserFacingError(`The data is too large for Grafana (413): send fewer lines per card.${saidText}`)
  }
  if (status === 429) {
    return new UserFacingError(
      `Grafana Cloud is rate limiting this stack (429)${attempts}: the event was not stored. Send less often, or check the stack's limits (active series, samples per second).${saidText}`
    )
  }
  if (status >= 500) {
    return new UserFacingError(
      `Grafana Cloud is unavailable (${status})${attempts}: the event was not stored. Try again later.${saidText}`
    )
  }
  if (status === 400) {
    return new UserFacingError(`Grafana rejected the data (400): nothing was stored.${saidText}`)
  }
  return new UserFacingError(`Grafana answered ${status}${attempts}: the event was not stored.${saidText}`)
}

/**
 * POSTs `body` (line protocol, timestamps in milliseconds). An empty body stores nothing and
 * proves the URL and credentials.
 */
export const writeLines = async (config: Configuration, body: string, options: WriteOptions = {}): Promise<void> => {
  const policy = options.policy ?? deliveryPolicy
  const onRetry = (attempt: number, error: AxiosError) =>
    options.log?.warn(
      `Grafana Cloud write: ${error.response ? `HTTP ${error.response.status}` : (error.code ?? 'network error')}; attempt ${attempt} of at most ${policy.maxRetries + 1}.`
    )
  try {
    await http.post(config.writeUrl, body, {
      params: { precision: 'ms' },
      auth: { username: config.userId, password: config.apiKey },
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      timeout: policy.attemptTimeoutMs,
      'axios-retry': retryOptions(policy, Date.now(), onRetry)
    })
  } catch (error) {
    throw describeWriteFailure(error, config, policy)
  }
}
