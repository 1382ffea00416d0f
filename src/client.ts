/**
 * Delivery to Grafana Cloud: one POST to an endpoint, retried per the retry policy. A failure is
 * thrown as a {@link DeliveryError}; src/errors.ts says what it means to the bot builder.
 */
import type { AxiosError, AxiosInstance } from 'axios'
// require, not import: esbuild would bundle axios' ESM sources beside the CommonJS build that
// @botpress/client already brings, a second copy of axios (+90 KB) in every cold start.
import axios = require('axios')
import axiosRetry from 'axios-retry'
import type { Configuration } from './config'
import { deliveryPolicy, retryOptions, type RetryPolicy } from './retry-policy'

/** Where a write goes, as whom, and how messages name it and its fixes. */
export interface Endpoint {
  readonly url: string
  readonly userId: string
  readonly apiKey: string
  /** The service, as delivery logs name it. */
  readonly name: string
  /** What the endpoint is, e.g. "influx write endpoint". */
  readonly what: string
  /** The configuration fields of the URL and of the user ID. */
  readonly urlField: string
  readonly userIdField: string
  /** The token scope a write needs. */
  readonly scope: string
  /** Where the right URL is found. */
  readonly urlAdvice: string
}

/** A write that did not land, with what the last attempt met (an axios error, or anything thrown). */
export class DeliveryError extends Error {
  public override readonly name = 'DeliveryError'
  public constructor(
    public readonly endpoint: Endpoint,
    public readonly policy: RetryPolicy,
    public readonly failure: unknown,
    /** What else the call did or did not store, for a card that writes to two endpoints. */
    public readonly note: string = ''
  ) {
    super(`delivery to ${new URL(endpoint.url).host} failed`)
  }

  public withNote(note: string): DeliveryError {
    return new DeliveryError(this.endpoint, this.policy, this.failure, note)
  }

  public get axiosError(): AxiosError | undefined {
    return axios.isAxiosError(this.failure) ? this.failure : undefined
  }
}

interface DeliveryLog {
  warn(message: string): void
}

export interface WriteOptions {
  readonly policy?: RetryPolicy
  readonly log?: DeliveryLog
}

export interface Request {
  readonly contentType: string
  readonly params?: Readonly<Record<string, string>>
}

const http: AxiosInstance = axios.create({
  // Bodies are encoded already; axios must not touch them.
  transformRequest: [(data: string) => data],
  responseType: 'text',
  maxRedirects: 0
})
axiosRetry(http)

/** POSTs `body` to `endpoint` with Basic auth, retried while the policy allows. */
export const post = async (
  endpoint: Endpoint,
  body: string,
  request: Request,
  options: WriteOptions = {}
): Promise<void> => {
  const policy = options.policy ?? deliveryPolicy
  const onRetry = (attempt: number, error: AxiosError) =>
    options.log?.warn(
      `${endpoint.name} write: ${error.response ? `HTTP ${error.response.status}` : (error.code ?? 'network error')}; attempt ${attempt} of at most ${policy.maxRetries + 1}.`
    )
  try {
    await http.post(endpoint.url, body, {
      params: request.params,
      auth: { username: endpoint.userId, password: endpoint.apiKey },
      headers: { 'Content-Type': request.contentType },
      timeout: policy.attemptTimeoutMs,
      'axios-retry': retryOptions(policy, Date.now(), onRetry)
    })
  } catch (error) {
    throw new DeliveryError(endpoint, policy, error)
  }
}

/** Grafana Cloud's influx write endpoint of a configuration. */
export const metricsEndpoint = (config: Configuration): Endpoint => ({
  url: config.writeUrl,
  userId: config.userId,
  apiKey: config.apiKey,
  name: 'Grafana Cloud',
  what: 'influx write endpoint',
  urlField: 'Endpoint URL',
  userIdField: 'User ID',
  scope: 'metrics:write',
  urlAdvice: "the URL starting with https://influx- from Grafana Cloud's HTTP Metrics page"
})

/**
 * POSTs line protocol (timestamps in milliseconds) to the metrics endpoint. An empty body
 * stores nothing and proves the URL and credentials.
 */
export const writeLines = (config: Configuration, body: string, options: WriteOptions = {}): Promise<void> =>
  post(
    metricsEndpoint(config),
    body,
    { contentType: 'text/plain; charset=utf-8', params: { precision: 'ms' } },
    options
  )
