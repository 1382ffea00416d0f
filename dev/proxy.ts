/**
 * A local HTTP proxy in front of a real server (VictoriaMetrics), request by request forwarding
 * or misbehaving. Besides the behaviours every stand-in has (./http-stand-in.ts: a status, a
 * hang, a reset, a one-way delay), it can:
 *
 *  - `forward`            pass the request through and the answer back;
 *  - `forward-then-drop`  forward the request, wait for the server's whole answer, then destroy
 *                         the client's socket without answering: the write is stored, the
 *                         client sees a network error.
 *
 * Several cases share one proxy through routes: a request to `${routeUrl(route)}/rest?query`
 * follows that route's script and is forwarded to `${target}/rest?query`; a request outside
 * every route, or on a route without a script, is forwarded as it is. Headers (Authorization
 * included) are forwarded as they came.
 */
import { Agent, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { listenStandIn, readBody, Script, type Behaviour, type StandInOptions } from './http-stand-in'

export type ProxyBehaviour = Behaviour | { readonly kind: 'forward' } | { readonly kind: 'forward-then-drop' }

export const forward: ProxyBehaviour = { kind: 'forward' }

export interface ProxiedRequest {
  /** '' outside every route. */
  readonly route: string
  /** 1-based, per route. */
  readonly number: number
  readonly behaviour: ProxyBehaviour
  readonly method: string
  /** The path and query as forwarded (without the route prefix). */
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  /** When the request was forwarded: the server's status (undefined if it failed). */
  upstreamStatus?: number
}

export interface ProxyOptions extends StandInOptions {
  /** Per forwarded request. Default 30 s. */
  readonly upstreamTimeoutMs?: number
  /** Sees every request as it arrives. */
  readonly onRequest?: (request: ProxiedRequest) => void
  /** Asked before a request is forwarded: a text refuses it with 400 and that text, nothing forwarded. */
  readonly admit?: (request: ProxiedRequest) => string | undefined
}

export interface Proxy {
  readonly url: string
  /** The base URL of a route, e.g. give the integration `${routeUrl(route)}/influx/write`. */
  routeUrl(route: string): string
  /** `behaviours` for the route's next requests, in order; `then` for every request after them. */
  script(route: string, behaviours: readonly ProxyBehaviour[], then?: ProxyBehaviour): void
  close(): Promise<void>
}

const ROUTE_NAME = /^[A-Za-z0-9_-]+$/u
const ROUTE = /^\/r\/([A-Za-z0-9_-]+)(\/[^?]*)?(\?.*)?$/u
const HOP_BY_HOP = ['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']

const endToEnd = (headers: IncomingHttpHeaders): Record<string, string | string[]> => {
  const kept: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.includes(name)) {
      kept[name] = value
    }
  }
  return kept
}

export const startProxy = async (target: string, options: ProxyOptions = {}): Promise<Proxy> => {
  const upstream = new URL(target)
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 30_000
  const agent = new Agent({ keepAlive: true })
  const scripts = new Map<string, Script<ProxyBehaviour>>()

  const send = (req: IncomingMessage, path: string, body: Buffer) =>
    new Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }>((resolve, reject) => {
      const out = request(
        {
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path,
          headers: { ...endToEnd(req.headers), 'content-length': String(body.length) },
          agent,
          timeout: upstreamTimeoutMs
        },
        (res) => {
          readBody(res).then(
            (answer) => resolve({ status: res.statusCode ?? 502, headers: endToEnd(res.headers), body: answer }),
            reject
          )
        }
      )
      out.on('timeout', () => out.destroy(new Error(`upstream did not answer within ${upstreamTimeoutMs} ms`)))
      out.on('error', reject)
      out.end(body)
    })

  const stand = await listenStandIn(options, async (stand, req, res, body) => {
    const url = req.url ?? '/'
    const match = ROUTE.exec(url)
    const route = match?.[1] ?? ''
    const path = match === null ? url : `${match[2] ?? '/'}${match[3] ?? ''}`
    let script = scripts.get(route)
    if (script === undefined) {
      script = new Script<ProxyBehaviour>([], forward)
      scripts.set(route, script)
    }
    const { behaviour, number } = script.take()
    const record: ProxiedRequest = {
      route,
      number,
      behaviour,
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body
    }
    options.onRequest?.(record)

    if (behaviour.kind !== 'forward' && behaviour.kind !== 'forward-then-drop') {
      await stand.perform(behaviour, req, res)
      return
    }
    const refusal = options.admit?.(record)
    if (refusal !== undefined) {
      await stand.perform({ kind: 'status', status: 400, body: refusal }, req, res)
      return
    }
    let answer
    try {
      answer = await send(req, path, body)
    } catch (error) {
      await stand.perform(
        { kind: 'status', status: 502, body: `proxy: upstream failed: ${(error as Error).message}` },
        req,
        res
      )
      return
    }
    record.upstreamStatus = answer.status
    await stand.hold()
    if (behaviour.kind === 'forward-then-drop') {
      req.socket.destroy()
      return
    }
    res.writeHead(answer.status, answer.headers).end(answer.body)
  })

  return {
    url: stand.url,
    routeUrl: (route) => {
      if (!ROUTE_NAME.test(route)) {
        throw new Error(`proxy: invalid route name ${JSON.stringify(route)}`)
      }
      return `${stand.url}/r/${route}`
    },
    script: (route, behaviours, then = forward) => {
      scripts.set(route, new Script(behaviours, then))
    },
    close: async () => {
      await stand.close()
      agent.destroy()
    }
  }
}
