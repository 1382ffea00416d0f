import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { startRecordingServer, type RecordingServer } from '../dev/recording-server'
import { freePort } from '../dev/servers'
import { writeLines } from './client'
import type { Configuration } from './config'
import { describeFailure } from './errors'
import type { RetryPolicy } from './retry-policy'

const API_KEY = 'glc_client_test_key_7d1e'
const policy: RetryPolicy = { attemptTimeoutMs: 300, budgetMs: 1_500, baseDelayMs: 20, maxRetries: 5 }
const LINE = 'flow_completed,channel=web metric=1 1700000000123'

let server: RecordingServer
let config: Configuration

beforeAll(async () => {
  server = await startRecordingServer()
  config = {
    writeUrl: `${server.url}/api/v1/push/influx/write`,
    userId: '1234567',
    apiKey: API_KEY,
    includeConversationAndUserIds: true,
    logs: undefined,
    logEveryEvent: false
  }
})
afterAll(() => server.close())
beforeEach(() => {
  server.requests.length = 0
  server.script([])
})

/** The message a bot builder reads for the write's failure. */
const failure = async (promise: Promise<unknown>): Promise<{ message: string }> => {
  try {
    await promise
  } catch (error) {
    const message = describeFailure('Send Metric failed', error, { grafanaUserId: config.userId, apiKey: API_KEY })
    expect(message).not.toContain(API_KEY)
    return { message }
  }
  throw new Error('expected the write to fail')
}

describe('a write', () => {
  test('posts the exact bytes as text with Basic auth and precision=ms', async () => {
    await writeLines(config, `${LINE}\nm,city=Zürich f=1 1`, { policy })
    expect(server.requests).toHaveLength(1)
    const [request] = server.requests
    expect(request!.method).toBe('POST')
    expect(request!.path).toBe('/api/v1/push/influx/write')
    expect(request!.query.toString()).toBe('precision=ms')
    expect(request!.headers.authorization).toBe(`Basic ${Buffer.from(`1234567:${API_KEY}`).toString('base64')}`)
    expect(request!.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(request!.body.toString('utf8')).toBe(`${LINE}\nm,city=Zürich f=1 1`)
  })

  test('an empty body proves the credentials and stores nothing', async () => {
    await writeLines(config, '', { policy })
    expect(server.requests[0]!.body).toHaveLength(0)
  })
})

describe('retries', () => {
  test('retry 503s with the same body until it lands', async () => {
    server.script([
      { kind: 'status', status: 503, body: 'try later' },
      { kind: 'status', status: 502 }
    ])
    const warnings: string[] = []
    await writeLines(config, LINE, { policy, log: { warn: (message) => warnings.push(message) } })
    expect(server.requests.map((request) => request.body.toString())).toEqual([LINE, LINE, LINE])
    expect(warnings).toEqual([
      'Grafana Cloud write: HTTP 503; attempt 2 of at most 6.',
      'Grafana Cloud write: HTTP 502; attempt 3 of at most 6.'
    ])
  })

  test('honour Retry-After on a 429', async () => {
    server.script([{ kind: 'status', status: 429, headers: { 'retry-after': '1' } }])
    await writeLines(config, LINE, { policy })
    expect(server.requests).toHaveLength(2)
  })

  test('give up at once when Retry-After exceeds the budget', async () => {
    server.script([{ kind: 'status', status: 429, body: 'too many', headers: { 'retry-after': '60' } }])
    const error = await failure(writeLines(config, LINE, { policy }))
    expect(server.requests).toHaveLength(1)
    expect(error.message).toMatch(/rate limiting this stack \(429\).*Grafana said: "too many"/)
  })

  test('retry after a hang, with a fresh timeout per attempt', async () => {
    server.script([{ kind: 'hang' }])
    await writeLines(config, LINE, { policy })
    expect(server.requests).toHaveLength(2)
  })

  test('retry after a connection reset', async () => {
    server.script([{ kind: 'reset' }, { kind: 'reset' }])
    await writeLines(config, LINE, { policy })
    expect(server.requests).toHaveLength(3)
  })

  test('stop within the budget when the server stays down', async () => {
    server.script([], { kind: 'status', status: 503, body: 'down' })
    const error = await failure(writeLines(config, LINE, { policy }))
    expect(server.requests.length).toBeGreaterThan(1)
    expect(server.requests.length).toBeLessThanOrEqual(policy.maxRetries + 1)
    expect(error.message).toMatch(/unavailable \(503\) after \d attempts.*Grafana said: "down"/)
  })

  test('report a timeout when every attempt hangs', async () => {
    server.script([], { kind: 'hang' })
    const error = await failure(writeLines(config, LINE, { policy }))
    expect(error.message).toMatch(/No answer from 127\.0\.0\.1:\d+ within 0\.3 s after \d attempts/)
  })
})

describe('no retry for answers a retry cannot change', () => {
  test.each([
    [400, 'unable to parse', /rejected the data \(400\): nothing was stored\. Grafana said: "unable to parse"/],
    [401, 'unauthorized', /refused the credentials \(401\).*User ID and the API key.*metrics:write/],
    [403, 'forbidden', /refused the credentials \(403\).*metrics:write/],
    [404, 'not found', /no influx write endpoint at http:\/\/127\.0\.0\.1:\d+\/api\/v1\/push\/influx\/write \(404\)/],
    [413, 'too big', /too large for Grafana \(413\)/]
  ])('%d', async (status, body, message) => {
    server.script([{ kind: 'status', status, body }], { kind: 'status', status: 204 })
    const error = await failure(writeLines(config, LINE, { policy }))
    expect(server.requests).toHaveLength(1)
    expect(error.message).toMatch(message)
  })

  test('scrub the Basic credentials and the URL-encoded key if the server echoes them', async () => {
    const basic = Buffer.from(`1234567:${API_KEY}`).toString('base64')
    server.script([
      { kind: 'status', status: 401, body: `bad auth: Basic ${basic} key=${encodeURIComponent(API_KEY)}` }
    ])
    const error = await failure(writeLines(config, LINE, { policy }))
    expect(error.message).toContain('bad auth: Basic *** key=***')
    expect(error.message).not.toContain(basic)
  })

  test('shorten a long answer and scrub the key if the server echoes it', async () => {
    server.script([{ kind: 'status', status: 400, body: `bad ${API_KEY} ${'x'.repeat(1000)}` }])
    const error = await failure(writeLines(config, LINE, { policy }))
    expect(error.message).toContain('bad *** xxx')
    expect(error.message.length).toBeLessThan(500)
  })
})

test('a connection lost at every attempt says the event may have been stored', async () => {
  server.script([], { kind: 'reset' })
  const error = await failure(writeLines(config, LINE, { policy }))
  expect(error.message).toMatch(
    /connection to 127\.0\.0\.1:\d+ was lost \(ECONNRESET\) after \d attempts: the event may have been stored \(once at most\)/
  )
})

test('an unreachable server is named', async () => {
  const port = await freePort()
  const error = await failure(writeLines({ ...config, writeUrl: `http://127.0.0.1:${port}/write` }, LINE, { policy }))
  expect(error.message).toMatch(
    new RegExp(`Could not reach 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\) after \\d attempts`)
  )
})
