/**
 * Node child processes for the benchmarks: the built bundle served by its own `start(port)`
 * (as Botpress runs it), or a minimal relay. Each child pins its server to 127.0.0.1 and prints
 * a marker the moment it listens, so a cold start can be timed without polling. Every child is
 * registered and stopped by its PID, also when the bench fails.
 */
import { spawn } from 'node:child_process'
import { freePort, killOnExit } from '../../test/helpers/servers'
import { now } from './stats'

const LISTENING = 'BENCH_LISTENING'

// Pins listen() to loopback (the sdk listens on every interface) and announces 'listening'.
// SIGTERM exits normally, so a child run with --cpu-prof writes its profile.
const PIN_AND_ANNOUNCE = `
process.on('SIGTERM', () => process.exit(0));
const http = require('node:http');
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, ...rest) {
  this.once('listening', () => process.stdout.write('\\n${LISTENING}\\n'));
  return typeof port === 'number' ? listen.call(this, port, '127.0.0.1', ...rest) : listen.call(this, port, ...rest);
};
`

/** Loads a built integration bundle and serves it with the sdk's start(port). */
export const BUNDLE_LAUNCHER = `${PIN_AND_ANNOUNCE}
require(process.env.BUNDLE).default.start(Number(process.env.PORT));
`

/**
 * The floor with the same HTTP hop: a plain node:http server that reads the request body the
 * way the sdk does and POSTs those bytes with axios (same options as src/client.ts, without
 * axios-retry), then answers 200 like an action.
 */
export const RELAY_LAUNCHER = `${PIN_AND_ANNOUNCE}
const axios = require(process.env.AXIOS);
const client = axios.create({ transformRequest: [(data) => data], responseType: 'text', maxRedirects: 0 });
const auth = { username: process.env.RELAY_USER, password: process.env.RELAY_PASSWORD };
http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk.toString()));
  req.on('end', () => {
    client
      .post(process.env.TARGET, body, {
        params: { precision: 'ms' },
        auth,
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
        timeout: 10000,
      })
      .then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"output":{}}'),
        (error) => res.writeHead(502).end(String(error.message))
      );
  });
}).listen(Number(process.env.PORT));
`

export interface NodeChild {
  readonly url: string
  readonly pid: number
  /** When spawn() was called (bench clock, ms). */
  readonly spawnedAt: number
  /** Resolves with the time (bench clock, ms) the child announced it listens. */
  readonly listening: Promise<number>
  output(): string
  stop(): Promise<void>
}


export interface SpawnOptions {
  readonly env?: Record<string, string>
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=…']. */
  readonly nodeFlags?: readonly string[]
  readonly cwd?: string
  readonly readyTimeoutMs?: number
}

/** Spawns `node -e script` on a free loopback port. Does not wait: await `listening`. */
export const spawnNode = async (script: string, options: SpawnOptions = {}): Promise<NodeChild> => {
  const port = await freePort()
  const spawnedAt = now()
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...options.env, PORT: String(port) },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
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
  const timeoutMs = options.readyTimeoutMs ?? 20_000
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not listen within ${timeoutMs} ms: ${output.slice(-2000)}`)), timeoutMs)
    child.stdout!.on('data', (chunk: Buffer) => {
      const at = now()
      output += chunk.toString('utf8')
      if (output.includes(LISTENING)) {
        clearTimeout(timer)
        resolve(at)
      }
    })
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
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
    output: () => output,
    stop: async () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
        return
      }
      process.kill(child.pid, 'SIGTERM')
      const killer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          process.kill(child.pid, 'SIGKILL')
        }
      }, 5_000)
      await exited
      clearTimeout(killer)
    },
  }
}
