/**
 * The integration's configuration, validated and normalised: where to write and as whom.
 */
import { isIP } from 'node:net'
import { UserFacingError } from './errors'
import { parseWith } from './parse'
import { configurationSchema } from './schemas'

/** Mimir's influx write path (`InfluxPushEndpoint`), added when only a host is given. */
const INFLUX_WRITE_PATH = '/api/v1/push/influx/write'

export interface Configuration {
  /** Absolute write URL without query string. */
  readonly writeUrl: string
  readonly userId: string
  readonly apiKey: string
  readonly includeConversationAndUserIds: boolean
}

const isLoopback = (hostname: string): boolean => {
  const host = hostname.replace(/^\[(.*)\]$/u, '$1')
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return true
  }
  if (isIP(host) === 4) {
    return host.startsWith('127.')
  }
  return isIP(host) === 6 && (host === '::1' || host === '0:0:0:0:0:0:0:1')
}

const invalidUrl = (problem: string): UserFacingError => new UserFacingError(`Endpoint URL ${problem}`)

/** The write URL for what a user typed in the Endpoint URL field. */
export const normaliseWriteUrl = (input: string): string => {
  const text = input.trim()
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw invalidUrl(
      "is not a URL: copy it from Grafana Cloud's HTTP Metrics page, e.g. https://influx-prod-13-prod-us-east-0.grafana.net."
    )
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidUrl(`must start with https:// (it starts with ${url.protocol}//).`)
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw invalidUrl(
      'must use https://: plain http:// would send your API key unencrypted (it is only accepted for a local server on localhost or 127.0.0.1).'
    )
  }
  if (url.username || url.password) {
    throw invalidUrl('must not contain a user name or password: put the user ID and the API key in their own fields.')
  }
  if (url.search || text.includes('?')) {
    throw invalidUrl('must not contain a query string (?…): the integration sets the precision itself.')
  }
  if (url.hash || text.includes('#')) {
    throw invalidUrl('must not contain a fragment (#…).')
  }
  const path = url.pathname.replace(/\/+$/u, '')
  if (url.hostname.startsWith('logs-') || /\/loki(\/|$)/u.test(path)) {
    throw invalidUrl(
      'is a Loki (logs) URL: use the metrics endpoint that starts with https://influx- from the HTTP Metrics page.'
    )
  }
  if (/\/api\/prom(\/|$)/u.test(path)) {
    throw invalidUrl(
      'is a Prometheus query URL (…/api/prom), which reads metrics: use the write endpoint that starts with https://influx- from the HTTP Metrics page.'
    )
  }
  return `${url.origin}${path === '' ? INFLUX_WRITE_PATH : path}`
}

/** Parses what Botpress hands the integration with every call (JSON from the install form). */
export const parseConfiguration = (raw: unknown): Configuration => {
  const { grafanaUrl, grafanaUserId, apiKey, includeConversationAndUserIds } = parseWith(
    'Invalid configuration',
    configurationSchema,
    raw
  )
  const userId = grafanaUserId.trim()
  if (!/^[0-9]+$/u.test(userId)) {
    throw new UserFacingError(
      "User ID must be the numeric instance ID shown on Grafana Cloud's HTTP Metrics page (digits only, e.g. 1234567)."
    )
  }
  const key = apiKey.trim()
  if (key === '') {
    throw new UserFacingError(
      'API key is empty: create a Grafana Cloud access policy token with the metrics:write scope.'
    )
  }
  return {
    writeUrl: normaliseWriteUrl(grafanaUrl),
    userId,
    apiKey: key,
    includeConversationAndUserIds: includeConversationAndUserIds ?? true
  }
}
