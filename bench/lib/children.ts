/**
 * A built integration bundle served by its own `start(port)` in a child node process, as
 * Botpress runs it. The child pins its server to 127.0.0.1 and prints a marker the moment it
 * listens, so a cold start can be timed without polling. Every child is registered and stopped
 * by its PID, also when the bench fails.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { freePort, killOnExit } from '../../dev/servers'
import { now } from './stats'

const LISTENING = 'BENCH_LISTENING'

// The sdk listens on every interface: pin listen() to loopback and announce 'listening'.
export const BUNDLE_LAUNCHER = `
const http = require('node:http');
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, ...rest) {
  this.once('listening', () => process.stdout.write('\\n${LISTENING}\\n'));
  return typeof port === 'number' ? listen.call(this, port, '127.0.0.1', ...rest) : listen.call(this, port, ...rest);
};
require(process.env.BUNDLE).default.start(Number(process.env.PORT));
`

export interface NodeChild {
  readonly url: string
  readonly pid: number
  /** When spawn() was called (bench clock, ms). */
  readonly spawnedAt: number
  /** Resolves with the time (bench clock, ms) the child announced it listens. */
  readonly listening: Promise<number>
  stop(): Promise<void>
}

/** Spawns `node -e script` on a free loopback port. Does not wait: await `listening`. */
export const spawnNode = async (script: string, options: { env?: Record<string, string> } = {}): Promise<NodeChild> => {
  const port = await freePort()
  const spawnedAt = now()
  const child = spawn(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH ?? '', ...options.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  killOnExit(child)
  let output = ''
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', (error) => {
      output += `\n[spawn error] ${error.message}\n`
      resolve()
    })
  })
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`child did not listen within 20 s: ${output.slice(-2000)}`)),
      20_000
    )
    child.stdout!.on('data', (chunk: Buffer) => {
      const at = now()
      output = (output + chunk.toString('utf8')).slice(-4000)
      if (output.includes(LISTENING)) {
        clearTimeout(timer)
        resolve(at)
      }
    })
    child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-4000)))
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`child exited (${child.exitCode ?? child.signalCode}) before listening: ${output.slice(-2000)}`))
    })
  })
  listening.catch(() => undefined)
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    spawnedAt,
    listening,
    stop: async () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
      process.kill(child.pid, 'SIGTERM')
      const killer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null)
          process.kill(child.pid, 'SIGKILL')
      }, 5_000)
      await exited
      clearTimeout(killer)
    }
  }
}

/** CPU time (user + system) a process has used so far, ms; Linux clock ticks are 10 ms. */
export const cpuMs = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state): utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) * 10
}
