/**
 * What the HTTP stand-ins (./recording-server.ts, ./proxy.ts) share: a node:http server on
 * 127.0.0.1 that reads every request whole, then carries out the behaviour scripted for it:
 *
 *  - `status`  answer with that status, body and headers;
 *  - `hang`    never answer: the socket is destroyed after `maxHangMs`, when the client gives
 *              up, or on close(), so every run stays bounded in time;
 *  - `reset`   reset the connection (TCP RST).
 *
 * A script is a list of behaviours for the next requests, then one for every request after them.
 * With `oneWayDelayMs`, every request waits that long before it is handled and every answer
 * before it is sent, so a round trip over loopback costs what one to a nearby region does.
 * Nothing is logged: headers (Authorization included) stay in memory only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export type Behaviour =
  | {
      readonly kind: 'status'
      readonly status: number
      readonly body?: string
      readonly headers?: Record<string, string>
    }
  | { readonly kind: 'hang' }
  | { readonly kind: 'reset' }

export const ok: Behaviour = { kind: 'status', status: 204 }

export interface StandInOptions {
  /** A `hang` holds the socket at most this long. Default 60 s. */
  readonly maxHangMs?: number
  /** Waited before handling each request and again before answering it. Default 0. */
  readonly oneWayDelayMs?: number
}

/** Behaviours for the next requests in order, then `then` for every later one; counts the requests. */
export class Script<B> {
  private readonly _next: B[]
  private _count = 0

  public constructor(
    behaviours: readonly B[],
    private readonly _then: B
  ) {
    this._next = [...behaviours]
  }

  /** The behaviour for the next request, and its number (1-based). */
  public take(): { behaviour: B; number: number } {
    this._count++
    return { behaviour: this._next.shift() ?? this._then, number: this._count }
  }
}

const MAX_REQUEST_BYTES = 8 * 1024 * 1024

/** The whole body of a request or an answer; more than `limit` bytes is an error. */
export const readBody = (message: IncomingMessage, limit = Infinity): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    message.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        message.destroy(new Error(`a body over ${limit} bytes`))
        return
      }
      chunks.push(chunk)
    })
    message.on('end', () => resolve(Buffer.concat(chunks)))
    message.on('error', reject)
  })

export interface StandIn {
  readonly url: string
  /** Waits out the one-way delay. */
  hold(): Promise<void>
  /** Carries out `behaviour` for one request, after the one-way delay. */
  perform(behaviour: Behaviour, req: IncomingMessage, res: ServerResponse): Promise<void>
  close(): Promise<void>
}

/** Listens on a free loopback port; `handle` gets every request with its body, after the one-way delay. */
export const listenStandIn = async (
  options: StandInOptions,
  handle: (stand: StandIn, req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<void>
): Promise<StandIn> => {
  const maxHangMs = options.maxHangMs ?? 60_000
  const delayMs = options.oneWayDelayMs ?? 0
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()

  const hold = async (): Promise<void> => {
    if (delayMs > 0) {
      await sleep(delayMs)
    }
  }

  const perform = async (behaviour: Behaviour, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    await hold()
    switch (behaviour.kind) {
      case 'status':
        res
          .writeHead(behaviour.status, { 'content-type': 'text/plain', ...behaviour.headers })
          .end(behaviour.body ?? '')
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
    }
  }

  const server = createServer((req, res) => {
    readBody(req, MAX_REQUEST_BYTES)
      .then(async (body) => {
        await hold()
        await handle(stand, req, res, body)
      })
      .catch(() => {
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
    throw new Error('HTTP stand-in: could not read its port')
  }

  const stand: StandIn = {
    url: `http://127.0.0.1:${address.port}`,
    hold,
    perform,
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
  return stand
}
