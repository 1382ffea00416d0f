import { describe, expect, test } from 'vitest'
import definition from '../integration.definition'
import { normaliseWriteUrl, parseConfiguration } from './config'

const HOST = 'https://influx-prod-13-prod-us-east-0.grafana.net'
const WRITE = `${HOST}/api/v1/push/influx/write`

describe('normaliseWriteUrl accepts', () => {
  test.each([
    ['the bare host', HOST, WRITE],
    ['the bare host with a trailing slash', `${HOST}/`, WRITE],
    ['the full write URL', WRITE, WRITE],
    ['the full write URL with a trailing slash', `${WRITE}/`, WRITE],
    ['surrounding whitespace', `  ${WRITE}\n`, WRITE],
    [
      'the newer prometheus host path',
      'https://prometheus-prod-13-prod-us-east-0.grafana.net/api/v1/push/influx',
      'https://prometheus-prod-13-prod-us-east-0.grafana.net/api/v1/push/influx'
    ],
    [
      'an explicit self-hosted path',
      'https://metrics.example.com/influx/write',
      'https://metrics.example.com/influx/write'
    ],
    ['a port', 'https://metrics.example.com:8443', 'https://metrics.example.com:8443/api/v1/push/influx/write'],
    ['http to localhost', 'http://localhost:8428/influx/write', 'http://localhost:8428/influx/write'],
    ['http to 127.0.0.1', 'http://127.0.0.1:8428/influx/write', 'http://127.0.0.1:8428/influx/write'],
    ['http to another 127/8 address', 'http://127.1.2.3:8428/', 'http://127.1.2.3:8428/api/v1/push/influx/write'],
    ['http to [::1]', 'http://[::1]:8428/write', 'http://[::1]:8428/write'],
    ['an upper-case scheme and host', 'HTTPS://INFLUX-PROD-13-PROD-US-EAST-0.GRAFANA.NET', WRITE]
  ])('%s', (_, input, expected) => {
    expect(normaliseWriteUrl(input)).toBe(expected)
  })
})

describe('normaliseWriteUrl refuses', () => {
  test.each([
    ['text that is not a URL', 'influx-prod-13-prod-us-east-0.grafana.net', /is not a URL/],
    ['another scheme', 'ftp://influx-prod-13.grafana.net', /must start with https:\/\/ \(it starts with ftp:\/\/\)/],
    [
      'plain http to a remote host',
      'http://influx-prod-13-prod-us-east-0.grafana.net',
      /must use https:\/\/.*unencrypted/
    ],
    ['plain http to a private address', 'http://10.0.0.5:8428/write', /must use https:\/\//],
    ['plain http to a look-alike of localhost', 'http://localhost.evil.com/write', /must use https:\/\//],
    ['user info', 'https://123:key@influx-prod-13.grafana.net', /must not contain a user name or password/],
    ['a query string', `${WRITE}?precision=s`, /must not contain a query string/],
    ['an empty query string', `${WRITE}?`, /must not contain a query string/],
    ['a fragment', `${WRITE}#x`, /must not contain a fragment/],
    ['a Loki host', 'https://logs-prod-006.grafana.net', /Loki \(logs\) URL/],
    ['a Loki path', 'https://example.com/loki/api/v1/push', /Loki \(logs\) URL/],
    [
      'a Prometheus query URL',
      'https://prometheus-prod-13-prod-us-east-0.grafana.net/api/prom',
      /Prometheus query URL/
    ],
    [
      'a Prometheus query URL with a path',
      'https://prometheus-prod-13-prod-us-east-0.grafana.net/api/prom/api/v1/query',
      /Prometheus query URL/
    ]
  ])('%s', (_, input, message) => {
    expect(() => normaliseWriteUrl(input)).toThrow(message)
  })

  test('each refusal has its own message', () => {
    const messages = new Set(
      [
        'nope',
        'ftp://a.b',
        'http://a.b',
        'https://u:p@a.b',
        'https://a.b?x',
        'https://a.b/#x',
        'https://logs-1.a.b',
        'https://a.b/api/prom'
      ].map((input) => {
        try {
          normaliseWriteUrl(input)
          return 'accepted'
        } catch (error) {
          return (error as Error).message
        }
      })
    )
    expect(messages.size).toBe(8)
  })
})

describe('parseConfiguration', () => {
  const valid = { grafanaUrl: HOST, grafanaUserId: '1234567', apiKey: 'glc_secret' }

  test('normalises a valid configuration', () => {
    expect(parseConfiguration(valid)).toEqual({
      writeUrl: WRITE,
      userId: '1234567',
      apiKey: 'glc_secret',
      includeConversationAndUserIds: true,
      logs: undefined,
      logEveryEvent: false
    })
  })

  test('trims a pasted user ID and key', () => {
    expect(parseConfiguration({ ...valid, grafanaUserId: ' 1234567 ', apiKey: ' glc_secret\n' })).toMatchObject({
      userId: '1234567',
      apiKey: 'glc_secret'
    })
  })

  test.each(['', 'abc', '12 34', '-1', '1.5'])('refuses the user ID %j', (grafanaUserId) => {
    expect(() => parseConfiguration({ ...valid, grafanaUserId })).toThrow(/User ID must be the numeric instance ID/)
  })

  test('refuses an empty API key', () => {
    expect(() => parseConfiguration({ ...valid, apiKey: '  ' })).toThrow(/API key is empty.*metrics:write/)
  })

  test('names a missing field without echoing any value', () => {
    const attempt = () => parseConfiguration({ grafanaUrl: HOST, apiKey: 'glc_secret' })
    expect(attempt).toThrow(/Invalid configuration: grafanaUserId/)
    expect(attempt).not.toThrow(/glc_secret/)
  })
})

describe('logs configuration', () => {
  const valid = { grafanaUrl: HOST, grafanaUserId: '1234567', apiKey: 'glc_secret' }
  const LOKI = 'https://logs-prod-006.grafana.net'

  test('both fields empty or missing: logs off, as for an install made before logs existed', () => {
    expect(parseConfiguration(valid).logs).toBeUndefined()
    expect(parseConfiguration({ ...valid, logsUrl: ' ', logsUserId: '' }).logs).toBeUndefined()
    expect(parseConfiguration(valid).logEveryEvent).toBe(false)
  })

  test.each([
    [LOKI, `${LOKI}/loki/api/v1/push`],
    [`${LOKI}/`, `${LOKI}/loki/api/v1/push`],
    [`${LOKI}/loki/api/v1/push`, `${LOKI}/loki/api/v1/push`],
    ['http://127.0.0.1:3100', 'http://127.0.0.1:3100/loki/api/v1/push']
  ])('%s pushes to %s', (logsUrl, pushUrl) => {
    expect(parseConfiguration({ ...valid, logsUrl, logsUserId: ' 654321 ' }).logs).toEqual({
      pushUrl,
      userId: '654321'
    })
  })

  test.each([
    [{ logsUrl: LOKI }, /Logs user ID is empty: .*or clear Logs endpoint URL to turn logs off/],
    [{ logsUserId: '654321' }, /Logs endpoint URL is empty: .*or clear Logs user ID to turn logs off/],
    [{ logsUrl: LOKI, logsUserId: 'abc' }, /Logs user ID must be the numeric user ID/],
    [{ logsUrl: 'http://logs.example.com', logsUserId: '1' }, /Logs endpoint URL must use https:\/\//],
    [
      { logsUrl: 'https://1:key@logs-prod-006.grafana.net', logsUserId: '1' },
      /Logs endpoint URL must not contain a user name/
    ],
    [{ logsUrl: `${LOKI}?x=1`, logsUserId: '1' }, /Logs endpoint URL must not contain a query string/],
    [
      { logsUrl: 'https://influx-prod-13-prod-us-east-0.grafana.net', logsUserId: '1' },
      /Logs endpoint URL is a metrics URL: put it in Endpoint URL/
    ],
    [
      { logsUrl: 'https://prometheus-prod-13-prod-us-east-0.grafana.net/api/prom', logsUserId: '1' },
      /Logs endpoint URL is a metrics URL: put it in Endpoint URL/
    ],
    [{ logsUrl: 'not a url', logsUserId: '1' }, /Logs endpoint URL is not a URL/]
  ])('refuses %j', (fields, message) => {
    expect(() => parseConfiguration({ ...valid, ...fields })).toThrow(message)
  })

  test('a logs URL in the metrics field names the logs field', () => {
    expect(() => parseConfiguration({ ...valid, grafanaUrl: LOKI })).toThrow(
      /Endpoint URL is a Loki \(logs\) URL: put it in Logs endpoint URL/
    )
  })

  test('keeps the switch for the trail of every event', () => {
    expect(parseConfiguration({ ...valid, logsUrl: LOKI, logsUserId: '1', logEveryEvent: true }).logEveryEvent).toBe(
      true
    )
  })
})

describe('the conversation and user ID switch', () => {
  const stored = { grafanaUrl: HOST, grafanaUserId: '1234567', apiKey: 'glc_secret' }

  test("is off in a new install's form: the default `bp deploy` publishes is false", () => {
    // What @botpress/cli 0.8.59 sends to Botpress for the integration's configuration form.
    const { prepareCreateIntegrationBody } = require('@botpress/cli/dist/api/integration-body') as {
      prepareCreateIntegrationBody: (d: typeof definition) => {
        configuration: { schema: { properties: Record<string, { default?: unknown }> } }
      }
    }
    const published = prepareCreateIntegrationBody(definition).configuration.schema
    expect(published.properties.includeConversationAndUserIds!.default).toBe(false)
    // The form filled in without touching the switch.
    const form = definition.configuration!.schema.parse(stored) as Record<string, unknown>
    expect(form.includeConversationAndUserIds).toBe(false)
    expect(parseConfiguration(form).includeConversationAndUserIds).toBe(false)
  })

  test('stays on for an install stored without it: sdk 0.10 hands over the stored JSON with no default applied', () => {
    expect(Object.hasOwn(stored, 'includeConversationAndUserIds')).toBe(false)
    expect(parseConfiguration(stored).includeConversationAndUserIds).toBe(true)
  })

  test.each([true, false])('is what the install stored: %s', (value) => {
    expect(parseConfiguration({ ...stored, includeConversationAndUserIds: value }).includeConversationAndUserIds).toBe(
      value
    )
  })

  test('refuses a stored value that is not a boolean, naming the field', () => {
    expect(() => parseConfiguration({ ...stored, includeConversationAndUserIds: 'yes' })).toThrow(
      /Invalid configuration: includeConversationAndUserIds/
    )
  })
})
