/**
 * A forwarding HTTP proxy on 127.0.0.1 that can hold every request and every answer back a few
 * milliseconds, so a write over loopback takes as long as one to Grafana Cloud from a nearby
 * region, and can hand each request it forwards to a callback (to learn what a client sends).
 */
import { Agent, createServer, request, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { sleep } from './stats'

export interface ForwardedRequest {
  readonly method: string
  /** Path and query string. */
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

export interface ProxyOptions {
  /** Origin to forward to, e.g. http://127.0.0.1:8428. */
  readonly target: string
  /** Added on the way in and again on the way out: a round trip costs twice this. */
  readonly oneWayDelayMs: number
  readonly onRequest?: (forwarded: ForwardedRequest) => void
}

export interface Proxy {
  readonly url: string
  close(): Promise<void>
}

export const startProxy = async (options: ProxyOptions): Promise<Proxy> => {
  const agent = new Agent({ keepAlive: true })
  const server = createServer((req, res) => {
    const forward = (body: Buffer) => {
      const upstream = request(
        new URL(req.url ?? '/', options.target),
        { method: req.method, headers: { ...req.headers, host: new URL(options.target).host }, agent },
        (answer) => {
          const answerChunks: Buffer[] = []
          answer.on('data', (chunk: Buffer) => answerChunks.push(chunk))
          answer.on('end', () => {
            void sleep(options.oneWayDelayMs).then(() =>
              res.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(answerChunks))
            )
          })
        }
      )
      upstream.on('error', (error) => res.writeHead(502).end(`proxy: ${error.message}`))
      upstream.end(body)
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      options.onRequest?.({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body })
      void sleep(options.oneWayDelayMs).then(() => forward(body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      agent.destroy()
    }
  }
}
