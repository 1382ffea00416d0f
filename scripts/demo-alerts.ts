/**
 * `npm run demo:alerts`: one alert end to end, in well under a minute, nothing needed but the
 * Debian packages. Starts VictoriaMetrics, Alertmanager 0.25 and vmalert on 127.0.0.1 with the
 * rules built from second-long windows, serves the built bundle, sends a bot's messages through
 * Send Metric for a few seconds, stops them, and prints the BotpressBotSilent alert as
 * Alertmanager delivers it to a local webhook.
 *
 * Everything it starts is stopped by PID and its folders removed, on success, on error and on
 * Ctrl-C or SIGTERM.
 */
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import {
  SECONDS_RULES_CONFIG,
  startAlertingStack,
  type AlertingStack,
  type DeliveredAlert
} from '../dev/alerting-stack'
import { triggerAction } from '../dev/botpress'
import { startIntegrationProcess, type IntegrationProcess } from '../dev/integration-process'

const ROOT = resolve(__dirname, '..')
const BOT_ID = 'demo-bot'
const CHANNEL = 'webchat'
const TRAFFIC_MS = 6_000
const TICK_MS = 500
const WAIT_MS = 45_000
const BUILD_TIMEOUT_MS = 180_000

const say = (text = ''): void => {
  process.stdout.write(`${text}\n`)
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

let stack: AlertingStack | undefined
let integration: IntegrationProcess | undefined
let stopping: Promise<void> | undefined

const stopAll = (): Promise<void> => {
  stopping ??= (async () => {
    await integration?.stop()
    await stack?.stop()
  })()
  return stopping
}

const onSignal = (signal: NodeJS.Signals, code: number) => {
  say(`\n${signal === 'SIGINT' ? 'Interrupted (Ctrl-C)' : `Got ${signal}`}: stopping what the demo started…`)
  void stopAll().finally(() => process.exit(code))
}

const build = (): Promise<void> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolvePromise()
      else reject(new Error(`npm run build failed (exit ${code}):\n${output.slice(-2000)}`))
    })
  })

const describeAlert = (a: DeliveredAlert): string =>
  [
    `   ${a.labels.alertname} (${a.status})`,
    `   labels:      ${Object.entries(a.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    `   summary:     ${a.annotations.summary}`,
    `   description: ${a.annotations.description}`,
    `   runbook:     ${a.annotations.runbook_url}`
  ].join('\n')

async function main(args: string[]): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    say('Usage: npm run demo:alerts [-- --skip-build]\n')
    say('Shows the BotpressBotSilent alert end to end: the bot sends messages, stops, and the alert')
    say('arrives at a local webhook through vmalert and Alertmanager (Debian: victoria-metrics,')
    say('prometheus-alertmanager).')
    say('  --skip-build   use .botpress/dist/index.js from an earlier `npm run build`')
    return 0
  }
  if (!args.includes('--skip-build')) {
    say('== Build: npm run build')
    await build()
  }
  process.on('SIGINT', () => onSignal('SIGINT', 130))
  process.on('SIGTERM', () => onSignal('SIGTERM', 143))

  say('== Local alerting pipeline')
  stack = await startAlertingStack()
  integration = await startIntegrationProcess()
  const silent = SECONDS_RULES_CONFIG.silent
  say(
    `   VictoriaMetrics ${stack.vm.url} (pid ${stack.vm.pid}), vmalert ${stack.vmalert.url} (pid ${stack.vmalert.pid}),`
  )
  say(`   Alertmanager ${stack.alertmanager.url} (pid ${stack.alertmanager.pid}) → webhook ${stack.webhook.url}/alerts`)
  say(`   the integration's built bundle at ${integration.url} (pid ${integration.pid})`)
  say(`   rules: rules/build.ts with windows in seconds (silent after ${silent.window}, then ${silent.for} more)`)

  say(`== Traffic: ${BOT_ID} on ${CHANNEL} sends message_received through Send Metric`)
  let sent = 0
  for (const end = Date.now() + TRAFFIC_MS; Date.now() < end; sent++) {
    const answer = await triggerAction(integration.url, stack.integrationConfiguration(false), 'sendMetric', {
      name: 'message_received',
      botId: BOT_ID,
      channel: CHANNEL
    })
    if (answer.status !== 200) throw new Error(`Send Metric answered ${answer.status}: ${answer.text}`)
    await sleep(TICK_MS)
  }
  say(`   ${sent} events sent; now the bot goes quiet`)

  say('== Waiting for Alertmanager to deliver BotpressBotSilent')
  const started = Date.now()
  for (let i = 0; i < WAIT_MS / 250 && Date.now() - started < WAIT_MS; i++) {
    const alert = stack.delivered().find((a) => a.labels.alertname === 'BotpressBotSilent')
    if (alert) {
      say(`   delivered ${((Date.now() - started) / 1000).toFixed(1)} s after the last message:`)
      say(describeAlert(alert))
      return 0
    }
    await sleep(250)
  }
  throw new Error(`no BotpressBotSilent alert within ${WAIT_MS / 1000} s.\n--- vmalert ---\n${stack.vmalert.logTail()}`)
}

void main(process.argv.slice(2))
  .catch((err: unknown) => {
    process.stderr.write(`demo:alerts: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  })
  .then(async (code) => {
    await stopAll()
    say('== Stopped everything the demo started')
    process.exitCode = code
  })
