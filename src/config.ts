/**
 * The integration's configuration, validated and normalised: where to write and as whom.
 */
import { z } from '@botpress/sdk'
import { isIP } from 'node:net'
import { UserFacingError } from './errors'
import { parseWith } from './parse'
import { configurationSchema } from './schemas'

/** Mimir's influx write path (`InfluxPushEndpoint`), added when only a host is given. */
const INFLUX_WRITE_PATH = '/api/v1/push/influx/write'

/** Loki's push path, added when only a host is given. */
const LOKI_PUSH_PATH = '/loki/api/v1/push'

export interface LogsConfiguration {
  /** Absolute push URL without query string. */
  readonly pushUrl: string
  readonly userId: string
}

export interface Configuration {
  /** Absolute write URL without query string. */
  readonly writeUrl: string
  readonly userId: string
  readonly apiKey: string
  readonly includeConversationAndUserIds: boolean
  /** Undefined when logs are off. */
  readonly logs: LogsConfiguration | undefined
  /** Send Metric and Send LLM Usage also write their event as a log line (logs on). */
  readonly logEveryEvent: boolean
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

const METRICS_FIELD = 'Endpoint URL'
const LOGS_FIELD = 'Logs endpoint URL'

/**
 * The checks both endpoint URLs share: a URL, https (http only for a local server), no
 * credentials, no query, no fragment. Returns the URL and its path without trailing slashes.
 */
const parseEndpointUrl = (input: string, field: string, example: string): { url: URL; path: string } => {
  const invalid = (problem: string): UserFacingError => new UserFacingError(`${field} ${problem}`)
  const text = input.trim()
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw invalid(`is not a URL: copy it from Grafana Cloud, e.g. ${example}.`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalid(`must start with https:// (it starts with ${url.protocol}//).`)
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw invalid(
      'must use https://: plain http:// would send your API key unencrypted (it is only accepted for a local server on localhost or 127.0.0.1).'
    )
  }
  if (url.username || url.password) {
    throw invalid('must not contain a user name or password: put the user ID and the API key in their own fields.')
  }
  if (url.search || text.includes('?')) {
    throw invalid('must not contain a query string (?…): the integration sets what it needs itself.')
  }
  if (url.hash || text.includes('#')) {
    throw invalid('must not contain a fragment (#…).')
  }
  return { url, path: url.pathname.replace(/\/+$/u, '') }
}

const isLogsUrl = ({ url, path }: { url: URL; path: string }): boolean =>
  url.hostname.startsWith('logs-') || /\/loki(\/|$)/u.test(path)

const isMetricsUrl = ({ url, path }: { url: URL; path: string }): boolean =>
  /^(influx|prometheus)-/u.test(url.hostname) || /^\/api\/(prom|v1\/push)(\/|$)/u.test(path)

/** The write URL for what a user typed in the Endpoint URL field. */
export const normaliseWriteUrl = (input: string): string => {
  const parsed = parseEndpointUrl(input, METRICS_FIELD, 'https://influx-prod-13-prod-us-east-0.grafana.net')
  const invalid = (problem: string): UserFacingError => new UserFacingError(`${METRICS_FIELD} ${problem}`)
  if (isLogsUrl(parsed)) {
    throw invalid(
      `is a Loki (logs) URL: put it in ${LOGS_FIELD}, and here the metrics endpoint that starts with https://influx- from the HTTP Metrics page.`
    )
  }
  if (/\/api\/prom(\/|$)/u.test(parsed.path)) {
    throw invalid(
      'is a Prometheus query URL (…/api/prom), which reads metrics: use the write endpoint that starts with https://influx- from the HTTP Metrics page.'
    )
  }
  return `${parsed.url.origin}${parsed.path === '' ? INFLUX_WRITE_PATH : parsed.path}`
}

/** The push URL for what a user typed in the Logs endpoint URL field. */
export const normaliseLogsUrl = (input: string): string => {
  const parsed = parseEndpointUrl(input, LOGS_FIELD, 'https://logs-prod-006.grafana.net')
  if (isMetricsUrl(parsed)) {
    throw new UserFacingError(
      `${LOGS_FIELD} is a metrics URL: put it in ${METRICS_FIELD}, and here the Loki URL that starts with https://logs- from the stack's Loki details page.`
    )
  }
  return `${parsed.url.origin}${parsed.path === '' ? LOKI_PUSH_PATH : parsed.path}`
}

const USER_ID = /^[0-9]+$/u

/** Logs are on when both fields are filled, off when both are empty. */
const parseLogs = (url: string | undefined, userId: string | undefined): LogsConfiguration | undefined => {
  const pushUrl = url?.trim() ?? ''
  const id = userId?.trim() ?? ''
  if (pushUrl === '' && id === '') {
    return undefined
  }
  if (id === '') {
    throw new UserFacingError(
      `Logs user ID is empty: fill it in with the numeric user ID shown next to the Loki URL, or clear ${LOGS_FIELD} to turn logs off.`
    )
  }
  if (pushUrl === '') {
    throw new UserFacingError(
      `${LOGS_FIELD} is empty: fill it in with the Loki URL from the stack's Loki details page, or clear Logs user ID to turn logs off.`
    )
  }
  if (!USER_ID.test(id)) {
    throw new UserFacingError(
      "Logs user ID must be the numeric user ID shown on the stack's Loki details page (digits only, e.g. 654321)."
    )
  }
  return { pushUrl: normaliseLogsUrl(pushUrl), userId: id }
}

/**
 * The configuration as an installed bot stored it. Botpress hands the integration the JSON saved
 * at install exactly as saved: @botpress/sdk 0.10's extractContext (src/integration/context.ts)
 * only base64-decodes and JSON.parses the x-bp-configuration header, no schema, no defaults. The
 * published default of the ID switch (false) is what a new install's form shows; an install saved
 * without the key predates that default, when a missing switch meant on, and must keep its IDs,
 * so the switch is read here without the published default.
 */
const storedConfigurationSchema = configurationSchema.extend({
  includeConversationAndUserIds: z.boolean().optional()
})

/** Parses what Botpress hands the integration with every call (JSON from the install form). */
export const parseConfiguration = (raw: unknown): Configuration => {
  const { grafanaUrl, grafanaUserId, apiKey, includeConversationAndUserIds, logsUrl, logsUserId, logEveryEvent } =
    parseWith('Invalid configuration', storedConfigurationSchema, raw)
  const userId = grafanaUserId.trim()
  if (!USER_ID.test(userId)) {
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
    // Missing: an install saved before IDs were off by default (see storedConfigurationSchema).
    includeConversationAndUserIds: includeConversationAndUserIds ?? true,
    logs: parseLogs(logsUrl, logsUserId),
    logEveryEvent: logEveryEvent ?? false
  }
}
