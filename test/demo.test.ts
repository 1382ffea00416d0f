/**
 * `npm run demo` (scripts/demo.ts) as a newcomer runs it: a child process without any GRAFANA_*
 * variable, so it builds, starts its own VictoriaMetrics and Loki stand-in, fires the cards (Send
 * Log and the trail of one Send Metric call too), prints the log entries and the series read back
 * and the CSV export, and leaves nothing behind — also when interrupted with Ctrl-C.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

const ROOT = resolve(__dirname, '..')
const RUN_TIMEOUT_MS = 120_000

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** The environment of a newcomer: no Grafana credentials. */
const demoEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GRAFANA_')))

/**
 * Runs the demo; `interruptWhen` sends SIGINT to the child's PID (tsx relays it to the script, as
 * a terminal's Ctrl-C would) the first time the output matches it. Bounded by RUN_TIMEOUT_MS.
 */
const runDemo = (command: string, args: string[], interruptWhen?: RegExp): Promise<Run> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: demoEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let interrupted = false
    const check = () => {
      if (interruptWhen && !interrupted && interruptWhen.test(stdout)) {
        interrupted = true
        child.kill('SIGINT')
      }
    }
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8')
      check()
    })
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the demo did not finish within ${RUN_TIMEOUT_MS / 1000} s:\n${stdout}\n${stderr}`))
    }, RUN_TIMEOUT_MS)
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolvePromise({ code, signal, stdout, stderr })
    })
  })

/** True when `pid` is still a victoria-metrics process (a reused PID is not). */
const victoriaMetricsAlive = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('victoria-metrics')
  } catch {
    return false
  }
}
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** What the demo says it started: VictoriaMetrics (pid, data folder) and the integration (pid). */
const started = (stdout: string) => {
  const vm = /VictoriaMetrics http:\/\/127\.0\.0\.1:\d+ {2}\(pid (\d+), data folder (\S+),/u.exec(stdout)
  const integration = /integration: .* \(pid (\d+)\)/u.exec(stdout)
  expect(vm, stdout).not.toBeNull()
  expect(integration, stdout).not.toBeNull()
  return { vmPid: Number(vm![1]), vmDataDir: vm![2]!, integrationPid: Number(integration![1]) }
}

const expectNothingLeft = (stdout: string) => {
  const { vmPid, vmDataDir, integrationPid } = started(stdout)
  expect(victoriaMetricsAlive(vmPid)).toBe(false)
  expect(existsSync(vmDataDir)).toBe(false)
  expect(alive(integrationPid)).toBe(false)
  for (const [, folder] of stdout.matchAll(/removed the export folder (\S+)/gu)) {
    expect(existsSync(folder!)).toBe(false)
  }
}

/** The demo's output, printed when a test fails. */
let onFailure = ''

describe('npm run demo', () => {
  beforeEach(() => {
    onFailure = ''
  })
  afterEach((context) => {
    if (context.task.result?.state === 'fail' && onFailure !== '') process.stderr.write(`${onFailure}\n`)
  })

  it('builds, sends the cards to a local VictoriaMetrics and Loki stand-in, prints the entries, the series and the CSV, cleans up', async () => {
    const run = await runDemo('npx', ['tsx', 'scripts/demo.ts'])
    onFailure = `--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`
    const out = run.stdout
    expect(run.code).toBe(0)
    expect(run.stderr).not.toMatch(/Error/u)

    expect(out).toMatch(/^bp build: ok in [\d.]+ s/mu)
    expect(out).toContain('ok: the endpoint accepted the credentials')
    expect(out).toMatch(/^Loki stand-in http:\/\/127\.0\.0\.1:\d+ {2}\(dev\/loki\.ts, in this process/mu)
    expect(out).toContain('ok: the logs endpoint accepted them too')
    expect(out).toMatch(
      /Grafana Cloud Logs accepted the credentials for user \d+ at http:\/\/127\.0\.0\.1:\d+\/loki\/api\/v1\/push/u
    )

    // Send Log and the trail: what was sent, then the entries read back from the stand-in's query_range.
    expect(out).toContain('stream {botId="demo-bot", channel="whatsapp", service_name="botpress", version="1.4.2"}')
    expect(out).toMatch(/metadata amount, card, conversationId, event, orderId, userId {2}at \d{19} ns/u)
    expect(out).toMatch(
      /stored as handoff_requested_metric \{botId, channel, instance, version\}, and as a log line with the IDs/u
    )
    const logs = out.slice(out.indexOf('== Stored log entries'), out.indexOf('== Stored series'))
    expect(logs).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}\{botId="demo-bot", channel="whatsapp", service_name="botpress", version="1\.4\.2"\}\n {3}line {6}\{"level":"warning","message":"Payment declined: card expired","instance":"[0-9a-z]{13}"\}\n {3}metadata {2}amount=35\.2 card=sendLog conversationId=conv-2 detected_level=warn event=payment_declined orderId=A-1042 userId=ben$/mu
    )
    expect(logs).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}\{botId="demo-bot", channel="webchat", service_name="botpress", version="1\.4\.1"\}\n {3}line {6}\{"level":"info","message":"handoff_requested","instance":"[0-9a-z]{13}"\}\n {3}metadata {2}card=sendMetric conversationId=conv-1 detected_level=info event=handoff_requested series=handoff_requested_metric userId=ana value=1$/mu
    )
    expect(logs).toContain('2 entries: one per call answered OK, in 2 streams')

    // The refused calls, with their messages.
    expect(out).toContain(
      'Send Metric failed: Metric name must not contain whitespace (found U+0020 at position 5): use _ instead, e.g. flow_completed.'
    )
    expect(out).toContain(
      'Send Raw Data failed: Invalid line protocol, nothing was sent: line 2, column 32: the line has a timestamp'
    )
    expect(out).toContain('linesSent 2, seriesNames checkout_amount, checkout_items, nlu_confidence')

    // The stored-series table: header, then one row per sample, read back from VictoriaMetrics.
    const table = out.slice(out.indexOf('== Stored series'), out.indexOf('== Export'))
    expect(table).toMatch(/^SERIES +LABELS +VALUE +TIME \(UTC\) +INSTANCE$/mu)
    const rows = table
      .split('\n')
      .filter((line) => /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}[0-9a-z]{13}$/u.test(line))
    const row = (series: string, ...parts: string[]) =>
      rows.filter((r) => r.startsWith(`${series} `) && parts.every((p) => r.includes(p)))
    expect(rows).toHaveLength(14)
    expect(
      row('flow_started_metric', 'channel=webchat', 'version=1.4.1', 'conversationId=conv-1', 'flow=checkout')
    ).toHaveLength(1)
    expect(row('flow_started_metric', 'channel=whatsapp', 'version=1.4.2')).toHaveLength(1)
    expect(row('flow_completed_metric', 'botId=demo-bot', 'channel=whatsapp', 'userId=ben')).toHaveLength(1)
    // The trail's sample: the IDs went to its log line, not to the series.
    const trail = row('handoff_requested_metric', 'botId=demo-bot channel=webchat version=1.4.1 ', ' 1 ')
    expect(trail).toHaveLength(1)
    expect(trail[0]).not.toContain('conversationId')
    expect(row('response_latency_metric', 'channel=webchat', ' 812 ')).toHaveLength(1)
    expect(row('response_latency_metric', 'channel=whatsapp', ' 430 ')).toHaveLength(1)
    expect(row('checkout_amount', 'flow=cart step=payment', ' 35.2 ')).toHaveLength(1)
    expect(row('checkout_items', ' 3 ')).toHaveLength(1)
    expect(row('nlu_confidence', 'intent=order_status', ' 0.93 ')).toHaveLength(1)
    const llm = [
      'channel=webchat',
      'gen_ai_provider_name=openai',
      'gen_ai_request_model=gpt-4o-mini-2024-07-18',
      'gen_ai_response_finish_reason=stop'
    ]
    expect(row('gen_ai_client_operations', ...llm, ' 1 ')).toHaveLength(1)
    expect(row('gen_ai_client_cost_usd', ...llm, ' 0.0002373 ')).toHaveLength(1)
    expect(row('gen_ai_client_operation_duration_seconds', ...llm, ' 1.35 ')).toHaveLength(1)
    expect(row('gen_ai_client_token_usage', ...llm, 'gen_ai_token_type=input', ' 1234 ')).toHaveLength(1)
    expect(row('gen_ai_client_token_usage', ...llm, 'gen_ai_token_type=output', ' 87 ')).toHaveLength(1)
    expect(table).not.toContain('SECRET-CONTENT-MARKER')
    expect(table).toContain('11 series, 14 samples')

    // The export through scripts/export-metrics.sh: its CSV header and rows.
    expect(out).toContain(
      '   timestamp,metric,botId,channel,conversationId,flow,gen_ai_operation_name,gen_ai_provider_name,gen_ai_request_model,' +
        'gen_ai_response_finish_reason,gen_ai_token_type,instance,intent,step,userId,version,value'
    )
    expect(out).toMatch(
      /^ {3}\d{4}-\d\d-\d\dT[\d:.]+Z,"flow_completed_metric","demo-bot","whatsapp","conv-2","checkout","","","","","","[0-9a-z]{13}","","","ben","1\.4\.2",1$/mu
    )
    expect(out).toContain('14 rows in')

    expect(out).toContain('== Cleanup')
    expect(out).toMatch(/stopped the Loki stand-in \(http:\/\/127\.0\.0\.1:\d+\)/u)
    expectNothingLeft(out)
  })

  it('stops what it started on Ctrl-C (SIGINT)', async () => {
    // The first test built the bundle; this one starts at the servers.
    const run = await runDemo(
      resolve(ROOT, 'node_modules/.bin/tsx'),
      ['scripts/demo.ts', '--skip-build'],
      /^ok +Ana opens/mu
    )
    onFailure = `--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`
    expect(run.stdout).toContain('Interrupted (Ctrl-C): stopping what the demo started')
    expect(run.code === 130 || run.signal === 'SIGINT', `${run.code} ${run.signal}\n${run.stdout}\n${run.stderr}`).toBe(
      true
    )
    expect(run.stdout).toMatch(/stopped VictoriaMetrics \(pid \d+\) and removed its data folder/u)
    expect(run.stdout).not.toContain('== Export')
    expectNothingLeft(run.stdout)
  })
})
