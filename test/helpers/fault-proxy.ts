/**
 * A small node:http proxy for fault injection: it sits in front of a real server
 * (VictoriaMetrics) on 127.0.0.1 and, request by request, forwards or misbehaves:
 *
 *  - `forward`            pass the request through and the answer back;
 *  - `status-429`         answer 429 with `Retry-After: 1` (nothing forwarded);
 *  - `status-503`         answer 503 (nothing forwarded);
 *  - `hang`               read the request, never answer (the socket is destroyed after
 *                         `maxHangMs`, or when the client gives up, or on close());
 *  - `reset`              read the request, then reset the connection (TCP RST);
 *  - `forward-then-drop`  forward the write, wait for the server's whole answer, then destroy
 *                         the client's socket without answering: the write is stored, the
 *                         client sees a network error.
 *
 * Several cases share one proxy through routes: a request to `${routeUrl(route)}/rest?query`
 * is handled by that route's script and forwarded to `${target}/rest?query`. A route's script
 * is a list of faults for its first requests, then one fault for every later request.
 * Headers (Authorization included) are forwarded as they came; nothing is logged.
 *
 * Every write it forwards first meets Mimir's rule for samples that share a millisecond (see
 * ./mimir-samples.ts): a second sample of a series at the same millisecond with another value
 * refuses the request with 400 (nothing forwarded), one with the same value is counted as
 * merged. VictoriaMetrics' dedup would merge both silently; the counts make either visible.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { MimirSamples, type SampleCounts } from './mimir-samples'

export type Fault = 'forward' | 'status-429' | 'status-503' | 'hang' | 'reset' | 'forward-then-drop'

export interface ProxiedRequest {
  readonly route: string
  /** 1-based, per route. */
  readonly number: number
  readonly fault: Fault
  readonly method: string
  /** The path and query as forwarded (without the route prefix). */
  readonly path: string
  readonly body: Buffer
  /** When the request was forwarded: the server's status (undefined if it failed). */
  upstreamStatus?: number
}

export interface FaultProxy {
  readonly url: string
  /** The base URL for a route; give the integration `${routeUrl(route)}/influx/write`. */
  routeUrl(route: string): string
  /** `faults` for the route's next requests, in order; `then` for every request after them. */
  script(route: string, faults: readonly Fault[], then?: Fault): void
  /** Every request that reached the proxy, in arrival order. */
  readonly requests: readonly ProxiedRequest[]
  requestsFor(route: string): ProxiedRequest[]
  /** What Mimir's duplicate rule saw in every write forwarded so far. */
  samples(): SampleCounts
  close(): Promise<void>
}

export interface FaultProxyOptions {
  /** A `hang` holds the socket at most this long (bounds every test). Default 60 s. */
  readonly maxHangMs?: number
  /** Per forwarded request. Default 30 s. */
  readonly upstreamTimeoutMs?: number
}

const ROUTE = /^\/r\/([A-Za-z0-9_-]+)(\/.*)?$/u
const MAX_BODY_BYTES = 8 * 1024 * 1024
const WRITE_PATH = /\/write$/u

interface Script {
  faults: Fault[]
  then: Fault
  count: number
}

const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        req.destroy(new Error('request body too large for the fault proxy'))
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })

export const startFaultProxy = async (target: string, options: FaultProxyOptions = {}): Promise<FaultProxy> => {
  const maxHangMs = options.maxHangMs ?? 60_000
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 30_000
  const upstream = new URL(target)
  const scripts = new Map<string, Script>()
  const requests: ProxiedRequest[] = []
  const timers = new Set<NodeJS.Timeout>()
  const sockets = new Set<Socket>()
  const mimir = new MimirSamples()

  /** Forwards one request; resolves with the server's status, headers and body. */
  const forward = (req: IncomingMessage, path: string, body: Buffer) =>
    new Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }>((resolve, reject) => {
      const headers: Record<string, string | string[]> = {}
      for (const [name, value] of Object.entries(req.headers)) {
        if (
          value !== undefined &&
          !['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'].includes(name)
        ) {
          headers[name] = value
        }
      }
      headers['content-length'] = String(body.length)
      const out = httpRequest(
        {
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path,
          headers,
          timeout: upstreamTimeoutMs
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => {
            const responseHeaders: Record<string, string | string[]> = {}
            for (const [name, value] of Object.entries(res.headers)) {
              if (
                value !== undefined &&
                !['connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(name)
              ) {
                responseHeaders[name] = value
              }
            }
            resolve({ status: res.statusCode ?? 502, headers: responseHeaders, body: Buffer.concat(chunks) })
          })
          res.on('error', reject)
        }
      )
      out.on('timeout', () => out.destroy(new Error(`upstream did not answer within ${upstreamTimeoutMs} ms`)))
      out.on('error', reject)
      out.end(body)
    })

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/'
    const match = ROUTE.exec(url.split('?')[0]!)
    const route = match?.[1]
    const script = route === undefined ? undefined : scripts.get(route)
    if (route === undefined || script === undefined) {
      await readBody(req).catch(() => Buffer.alloc(0))
      res.writeHead(404, { 'content-type': 'text/plain' }).end('fault proxy: unknown route')
      return
    }
    const body = await readBody(req)
    const query = url.includes('?') ? url.slice(url.indexOf('?')) : ''
    const path = `${match?.[2] ?? '/'}${query}`
    script.count++
    const fault = script.faults[script.count - 1] ?? script.then
    const record: ProxiedRequest = { route, number: script.count, fault, method: req.method ?? 'GET', path, body }
    requests.push(record)

    switch (fault) {
      case 'status-429':
        res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '1' }).end('fault proxy: too many requests')
        return
      case 'status-503':
        res.writeHead(503, { 'content-type': 'text/plain' }).end('fault proxy: service unavailable')
        return
      case 'hang': {
        const timer = setTimeout(() => {
          timers.delete(timer)
          req.socket.destroy()
        }, maxHangMs)
        timers.add(timer)
        req.socket.once('close', () => {
          clearTimeout(timer)
          timers.delete(timer)
        })
        return
      }
      case 'reset':
        req.socket.resetAndDestroy()
        return
      case 'forward':
      case 'forward-then-drop': {
        const refusal = WRITE_PATH.test(match?.[2] ?? '')
          ? mimir.admit(body.toString('utf8'), new URLSearchParams(query))
          : undefined
        if (refusal !== undefined) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end(refusal)
          return
        }
        let answer
        try {
          answer = await forward(req, path, body)
        } catch (error) {
          res
            .writeHead(502, { 'content-type': 'text/plain' })
            .end(`fault proxy: upstream failed: ${(error as Error).message}`)
          return
        }
        record.upstreamStatus = answer.status
        if (fault === 'forward-then-drop') {
          req.socket.destroy()
          return
        }
        res.writeHead(answer.status, answer.headers).end(answer.body)
        return
      }
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500).end()
      } else {
        res.destroy()
      }
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') {
    server.close()
    throw new Error('fault proxy: could not read its port')
  }
  const url = `http://127.0.0.1:${address.port}`

  return {
    url,
    routeUrl: (route) => {
      if (!/^[A-Za-z0-9_-]+$/u.test(route)) {
        throw new Error(`fault proxy: invalid route name ${JSON.stringify(route)}`)
      }
      return `${url}/r/${route}`
    },
    script: (route, faults, then = 'forward') => {
      scripts.set(route, { faults: [...faults], then, count: 0 })
    },
    requests,
    requestsFor: (route) => requests.filter((r) => r.route === route),
    samples: () => mimir.counts(),
    close: async () => {
      for (const timer of timers) {
        clearTimeout(timer)
      }
      timers.clear()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of sockets) {
        socket.destroy()
      }
      server.closeAllConnections()
      await closed
    }
  }
}
