/**
 * Runs the built bundle (`.botpress/dist/index.js`) in its own node process through its
 * `start(port)`, as Botpress runs it, and keeps everything it prints (to look for secrets).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { freePort } from './servers'

export const BUNDLE = resolve(__dirname, '../.botpress/dist/index.js')

// The sdk's start(port) listens on every interface; tests keep to loopback, so the child pins
// listen() to 127.0.0.1 before the bundle starts.
const LAUNCHER = `
const http = require('node:http');
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, ...rest) {
  return typeof port === 'number' ? listen.call(this, port, '127.0.0.1', ...rest) : listen.call(this, port, ...rest);
};
require(process.env.BUNDLE).default.start(Number(process.env.PORT));
`

export interface IntegrationProcess {
  readonly url: string
  readonly pid: number
  /** Everything the process printed so far, stdout and stderr. */
  output(): string
  stop(): Promise<void>
}

export const startIntegrationProcess = async (): Promise<IntegrationProcess> => {
  if (!existsSync(BUNDLE)) {
    throw new Error(`${BUNDLE} is missing: run \`npm run build\` first (npm test does).`)
  }
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, ['-e', LAUNCHER], {
    env: { PATH: process.env.PATH ?? '', BUNDLE, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const url = `http://127.0.0.1:${port}`

  const deadline = Date.now() + 15_000
  for (let attempt = 0; attempt < 150; attempt++) {
    if (child.exitCode !== null) {
      throw new Error(`the integration exited (${child.exitCode}): ${output.slice(-2000)}`)
    }
    try {
      const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) })
      if (health.ok) {
        break
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`the integration did not answer /health within 15 s: ${output.slice(-2000)}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }

  return {
    url,
    pid: child.pid!,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        return
      }
      const exited = new Promise<void>((r) => child.once('exit', () => r()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
  }
}
