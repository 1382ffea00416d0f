/**
 * A local node:http server that records every request byte for byte and answers with a
 * scripted behaviour per request: a status (with headers), a hang, or a connection reset.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingMessage['headers']
  readonly body: Buffer
}

export type Behaviour =
  | {
      readonly kind: 'status'
      readonly status: number
      readonly body?: string
      readonly headers?: Record<string, string>
    }
  | { readonly kind: 'hang' }
  | { readonly kind: 'reset' }

export interface RecordingServer {
  readonly url: string
  readonly requests: RecordedRequest[]
  /** Behaviours for the next requests, in order; once used up, every request gets `fallback`. */
  script(behaviours: Behaviour[], fallback?: Behaviour): void
  close(): Promise<void>
}

export const ok: Behaviour = { kind: 'status', status: 204 }

export const startRecordingServer = async (): Promise<RecordingServer> => {
  const requests: RecordedRequest[] = []
  let queue: Behaviour[] = []
  let fallback: Behaviour = ok
  const sockets = new Set<Socket>()

  const respond = (behaviour: Behaviour, req: IncomingMessage, res: ServerResponse): void => {
    switch (behaviour.kind) {
      case 'status':
        res.writeHead(behaviour.status, { 'content-type': 'text/plain', ...behaviour.headers })
        res.end(behaviour.body ?? '')
        return
      case 'hang':
        return
      case 'reset':
        req.socket.resetAndDestroy()
        return
    }
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      requests.push({
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks)
      })
      respond(queue.shift() ?? fallback, req, res)
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script(behaviours, otherwise = ok) {
      queue = [...behaviours]
      fallback = otherwise
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) {
          socket.destroy()
        }
        server.close(() => resolve())
      })
  }
}
