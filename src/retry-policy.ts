/**
 * When a write is retried. Every line carries the client's timestamp, so a retried write lands
 * on the same sample instead of counting the event twice: retrying after a timeout is safe.
 */
import type { AxiosError } from 'axios'
import { exponentialDelay, isNetworkError, retryAfter, type IAxiosRetryConfig } from 'axios-retry'

export interface RetryPolicy {
  /** Per attempt. */
  readonly attemptTimeoutMs: number
  /** No attempt starts later than this after the first one. */
  readonly budgetMs: number
  /** First backoff; it doubles on every retry, plus up to 20% jitter. */
  readonly baseDelayMs: number
  readonly maxRetries: number
}

export const deliveryPolicy: RetryPolicy = {
  attemptTimeoutMs: 3_000,
  budgetMs: 10_000,
  baseDelayMs: 250,
  maxRetries: 5
}

/** An attempt that got no answer within its timeout. */
export const isTimeout = (error: AxiosError): boolean => error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT'

/** An attempt whose connection broke after the request went out: the server may have acted on it. */
export const isLostConnection = (error: AxiosError): boolean => error.code === 'ECONNRESET' || error.code === 'EPIPE'

/** Network failures, timeouts, 429 and 5xx. Any other status is an answer that a retry will not change. */
const isTransient = (error: AxiosError): boolean => {
  const status = error.response?.status
  if (status !== undefined) {
    return status === 429 || (status >= 500 && status <= 599)
  }
  return isTimeout(error) || isNetworkError(error)
}

const retriesSoFar = (error: AxiosError): number => error.config?.['axios-retry']?.retryCount ?? 0

/** How many attempts a delivery made before it failed with `error`. */
export const attemptsMade = (error: AxiosError): number => retriesSoFar(error) + 1

/** The axios-retry options for one delivery that started at `startedAt` (ms). */
export const retryOptions = (
  policy: RetryPolicy,
  startedAt: number,
  onRetry: (attempt: number, error: AxiosError) => void
): IAxiosRetryConfig => {
  const delayFor = (retryNumber: number, error: AxiosError): number =>
    exponentialDelay(retryNumber, error, policy.baseDelayMs / 2)
  const remaining = (): number => policy.budgetMs - (Date.now() - startedAt)
  return {
    retries: policy.maxRetries,
    shouldResetTimeout: true,
    // The minimum wait (Retry-After or the backoff) must fit in what is left of the budget.
    retryCondition: (error) => {
      if (!isTransient(error)) {
        return false
      }
      const next = retriesSoFar(error) + 1
      const minimumWait = Math.max(policy.baseDelayMs * 2 ** (next - 1), retryAfter(error))
      return minimumWait < remaining()
    },
    retryDelay: (retryNumber, error) => Math.min(delayFor(retryNumber, error), Math.max(0, remaining())),
    onRetry: (retryCount, error) => onRetry(retryCount + 1, error)
  }
}
