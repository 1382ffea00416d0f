/**
 * Serves a built bundle (ours by default, `.botpress/dist/index.js`) in its own node process
 * through its `start(port)`, as Botpress runs it, and keeps everything it prints (to look for
 * secrets). The child reports the moment its server listens on a pipe of its own, so no one polls
 * for readiness and a cold start can be timed. Stopped by its PID, also when this process exits.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { freePort, killOnExit } from './servers'

export const BUNDLE = resolve(__dirname, '../.botpress/dist/index.js')

const LISTEN_TIMEOUT_MS = 20_000
const STOP_KILL_WAIT_MS = 5_000

// The sdk's start(port) listens on every interface; tests keep to loopback, so the child pins
// listen() to 127.0.0.1 before the bundle starts. The 'listening' report goes to fd 3, not stdout,
// so what the bundle prints stays its own.
const LAUNCHER = `
const http = require('node:http');
const { writeSync } = require('node:fs');
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, ...rest) {
  this.once('listening', () => writeSync(3, 'listening\\n'));
  return typeof port === 'number' ? listen.call(this, port, '127.0.0.1', ...rest) : listen.call(this, port, ...rest);
};
require(process.env.BUNDLE).default.start(Number(process.env.PORT));
`

export interface IntegrationProcess {
  readonly url: string
  readonly pid: number
  /** When the process was spawned and when its server listened (performance.now(), ms). */
  readonly spawnedAt: number
  readonly listeningAt: number
  /** Everything the process printed so far, stdout and stderr. */
  output(): string
  stop(): Promise<void>
}

export interface IntegrationProcessOptions {
  /** The built bundle to serve; default ours. */
  readonly bundle?: string
}

/** Spawns the process and resolves once its server listens on a free loopback port. */
export const startIntegrationProcess = async (options: IntegrationProcessOptions = {}): Promise<IntegrationProcess> => {
  const bundle = options.bundle ?? BUNDLE
  if (!existsSync(bundle)) {
    throw new Error(`${bundle} is missing: run \`npm run build\` first (npm test does).`)
  }
  const port = await freePort()
  const spawnedAt = performance.now()
  const child = spawn(process.execPath, ['-e', LAUNCHER], {
    env: { PATH: process.env.PATH ?? '', BUNDLE: bundle, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe']
  })
  killOnExit(child)
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', (error) => {
      output += `\n[spawn error] ${error.message}\n`
      resolve()
    })
  })

  const stop = async (): Promise<void> => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      return
    }
    child.kill('SIGTERM')
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_KILL_WAIT_MS)
    await exited
    clearTimeout(killer)
  }

  const listeningAt = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`the integration did not listen within ${LISTEN_TIMEOUT_MS / 1000} s: ${output.slice(-2000)}`))
    }, LISTEN_TIMEOUT_MS)
    child.stdio[3]!.once('data', () => {
      clearTimeout(timer)
      resolve(performance.now())
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`the integration exited (${child.exitCode ?? child.signalCode}): ${output.slice(-2000)}`))
    })
  }).catch(async (error: unknown) => {
    await stop()
    throw error
  })

  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    spawnedAt,
    listeningAt,
    output: () => output,
    stop
  }
}
