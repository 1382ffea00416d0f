/**
 * Runs a shell script of the project the way a user does, and meanwhile samples the command line
 * of the script and of every process it starts for a secret: a token must never be on one.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { descendants } from '../../dev/processes'

export interface ScriptRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** Times `secret` was seen in the command line of the script or a child. */
  readonly cmdlineHits: number
  /** How many processes the sampler saw (it looked only when given a secret). */
  readonly processesSeen: number
}

const SAMPLE_INTERVAL_MS = 2

/** `bash script args…` with exactly `env`; killed after `timeoutMs`, which also bounds the sampling. */
export async function runScript(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  secret: string | undefined,
  timeoutMs = 60_000
): Promise<ScriptRun> {
  const child = spawn('bash', [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  let done = false
  const exited = new Promise<number | null>((res) => child.on('close', (code) => ((done = true), res(code))))
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  let cmdlineHits = 0
  const pidsSeen = new Set<string>()
  const samples = timeoutMs / SAMPLE_INTERVAL_MS
  for (let i = 0; secret !== undefined && !done && i < samples; i++) {
    for (const pid of descendants(child.pid!)) {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        pidsSeen.add(`${pid}:${cmd.split('\0')[0]}`)
        if (cmd.includes(secret)) cmdlineHits++
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((r) => setTimeout(r, SAMPLE_INTERVAL_MS))
  }
  const code = await exited
  clearTimeout(killer)
  return { code, stdout, stderr, cmdlineHits, processesSeen: pidsSeen.size }
}
