/**
 * scripts/load-rules.sh against a local recording server standing in for Grafana Cloud's ruler:
 * the requests it sends (one per rule group, path, auth, body), what it says when refused, and
 * that the token is in no child's command line or environment.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { startRecordingServer, type RecordingServer } from '../dev/recording-server'
import { RULES_PATH, USAGE_RULES_PATH } from '../rules/build'
import { runScript, type ScriptRun } from './helpers/run-script'

const SCRIPT = resolve(__dirname, '../scripts/load-rules.sh')
const USER_ID = '1234567'

let server: RecordingServer
let work: string
let curlLog: string
let token: string

/** Runs the script with a `curl` first in PATH that logs its arguments and environment, then runs the real curl. */
const load = (args: string[], env: Record<string, string>): Promise<ScriptRun> =>
  runScript(
    SCRIPT,
    args,
    { PATH: `${join(work, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: tmpdir(), CURL_LOG: curlLog, ...env },
    token,
    30_000
  )

const env = (extra: Record<string, string> = {}) => ({
  GRAFANA_PROM_URL: `${server.url}/api/prom`,
  GRAFANA_USER_ID: USER_ID,
  GRAFANA_RULES_TOKEN: token,
  ...extra
})

const groupsOf = (file: string) => (parse(readFileSync(file, 'utf8')) as { groups: Array<{ name: string }> }).groups

const curlCalls = () =>
  readFileSync(curlLog, 'utf8')
    .split('\n--- curl\n')
    .filter((s) => s.trim() !== '')

beforeAll(async () => {
  server = await startRecordingServer()
  work = mkdtempSync(join(tmpdir(), 'load-rules-'))
  curlLog = join(work, 'curl.log')
  const realCurl = execFileSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).trim()
  execFileSync('mkdir', [join(work, 'bin')])
  writeFileSync(
    join(work, 'bin', 'curl'),
    `#!/bin/sh\n{ printf '\\n--- curl\\n'; printf '%s\\n' "$@"; env; } >>"$CURL_LOG"\nexec ${realCurl} "$@"\n`
  )
  chmodSync(join(work, 'bin', 'curl'), 0o755)
})

beforeEach(() => {
  token = `glc_${randomBytes(24).toString('base64url')}`
  server.requests.length = 0
  writeFileSync(curlLog, '')
})

afterAll(async () => {
  await server?.close()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('load-rules.sh', () => {
  it('posts every rule group of the file on its own, as YAML, with Basic auth, to the namespace', async () => {
    server.script([], { kind: 'status', status: 202 })
    const r = await load([], env())
    expect(r.stderr).not.toContain(token)
    expect(r.code, r.stderr).toBe(0)
    const groups = groupsOf(RULES_PATH)
    expect(groups.map((g) => g.name)).toEqual(['botpress-recording', 'botpress-alerts'])
    expect(server.requests).toHaveLength(groups.length)
    server.requests.forEach((req, i) => {
      expect(req.method).toBe('POST')
      expect(req.path).toBe('/api/prom/config/v1/rules/botpress')
      expect(req.headers['content-type']).toBe('application/yaml')
      expect(req.headers.authorization).toBe(`Basic ${Buffer.from(`${USER_ID}:${token}`).toString('base64')}`)
      expect(parse(req.body.toString('utf8'))).toEqual(groups[i])
    })
    expect(r.stderr).toContain('loaded rule group botpress-recording into namespace botpress')
    expect(r.stderr).toContain('loaded rule group botpress-alerts into namespace botpress')
    expect(curlCalls()).toHaveLength(groups.length)
    expect(readFileSync(curlLog, 'utf8')).not.toContain(token)
    expect(r.cmdlineHits).toBe(0)
  })

  it('takes other files, a namespace, a token file, and sends a Bearer token without a user ID', async () => {
    server.script([], { kind: 'status', status: 202 })
    const tokenFile = join(work, 'token')
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 })
    const r = await load(
      ['--namespace', 'bots.prod', '--token-file', tokenFile, USAGE_RULES_PATH],
      env({ GRAFANA_USER_ID: '', GRAFANA_RULES_TOKEN: '' })
    )
    expect(r.code, r.stderr).toBe(0)
    expect(server.requests).toHaveLength(1)
    expect(server.requests[0]!.path).toBe('/api/prom/config/v1/rules/bots.prod')
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${token}`)
    expect(parse(server.requests[0]!.body.toString('utf8'))).toEqual(groupsOf(USAGE_RULES_PATH)[0])
    expect(readFileSync(curlLog, 'utf8')).not.toContain(token)
    expect(r.cmdlineHits).toBe(0)
  })

  it('stops at a 401 and says to check the user ID and the token, without printing it', async () => {
    server.script([{ kind: 'status', status: 401, body: 'invalid authentication credentials' }])
    const r = await load([], env())
    expect(r.code).toBe(1)
    expect(server.requests).toHaveLength(1)
    expect(r.stderr).toContain(
      'the ruler refused the credentials (HTTP 401) for group botpress-recording: check GRAFANA_USER_ID'
    )
    expect(r.stderr).toContain('invalid authentication credentials')
    expect(r.stderr).not.toContain(token)
    expect(r.stdout).toBe('')
    expect(r.cmdlineHits).toBe(0)
  })

  it('says a 403 token lacks rules:write, and shows why the ruler refused a group (400)', async () => {
    server.script([{ kind: 'status', status: 403, body: 'forbidden' }])
    const forbidden = await load([], env())
    expect(forbidden.code).toBe(1)
    expect(forbidden.stderr).toContain('it needs the rules:write scope')
    server.requests.length = 0
    server.script([
      { kind: 'status', status: 202 },
      { kind: 'status', status: 400, body: 'too many rules in group' }
    ])
    const refused = await load([], env())
    expect(refused.code).toBe(1)
    expect(server.requests).toHaveLength(2)
    expect(refused.stderr).toContain('loaded rule group botpress-recording')
    expect(refused.stderr).toContain('the ruler refused group botpress-alerts (HTTP 400): too many rules in group')
  })

  it('refuses a token flag, plain http to another host and a file it cannot split, sending nothing', async () => {
    const flag = await load(['--token', token], env())
    expect(flag.code).toBe(1)
    expect(flag.stderr).toContain('--token is not accepted')
    const plain = await load([], env({ GRAFANA_PROM_URL: 'http://prometheus.example.com/api/prom' }))
    expect(plain.code).toBe(1)
    expect(plain.stderr).toContain('must use https://')
    const notRules = join(work, 'not-rules.yaml')
    writeFileSync(notRules, 'name: botpress\nrules: []\n')
    const odd = await load([notRules], env())
    expect(odd.code).toBe(1)
    expect(odd.stderr).toContain('expected "groups:" before anything else')
    expect(server.requests).toHaveLength(0)
    for (const r of [flag, plain, odd]) expect(r.stderr).not.toContain(token)
  })
})
