/**
 * `npm run demo:alerts` (scripts/demo-alerts.ts) as a newcomer runs it: the BotpressBotSilent
 * alert arrives at the local webhook, and every process it started is gone afterwards.
 */
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(__dirname, '..')
const RUN_TIMEOUT_MS = 120_000

const runDemo = (): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      [resolve(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/demo-alerts.ts', '--skip-build'],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolvePromise({ code, stdout, stderr })
    })
  })

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('npm run demo:alerts', () => {
  it(
    'shows "bot silent" delivered by Alertmanager to a local webhook, and leaves nothing running',
    { timeout: RUN_TIMEOUT_MS + 10_000 },
    async () => {
      const r = await runDemo()
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain('BotpressBotSilent (firing)')
      expect(r.stdout).toContain(
        'labels:      alertgroup=botpress-alerts, alertname=BotpressBotSilent, botId=demo-bot, channel=webchat, severity=critical'
      )
      expect(r.stdout).toContain('summary:     Bot demo-bot on webchat received no message for 8s')
      expect(r.stdout).toMatch(/== Stopped everything the demo started\n$/)
      const pids = [...r.stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]))
      expect(pids).toHaveLength(4)
      expect(pids.filter(alive)).toEqual([])
    }
  )
})
