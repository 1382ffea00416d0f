/**
 * The proxy of dev/proxy.ts in front of VictoriaMetrics, with the faults the fault tests name:
 *
 *  - `forward`            pass the request through and the answer back;
 *  - `status-429`         answer 429 with `Retry-After: 1` (nothing forwarded);
 *  - `status-503`         answer 503 (nothing forwarded);
 *  - `hang`               read the request, never answer (the socket is destroyed after
 *                         `maxHangMs`, or when the client gives up, or on close());
 *  - `reset`              read the request, then reset the connection (TCP RST);
 *  - `forward-then-drop`  forward the write, wait for the server's whole answer, then destroy
 *                         the client's socket without answering.
 *
 * Every write it forwards first meets Mimir's rule for samples that share a millisecond (see
 * ./mimir-samples.ts): a second sample of a series at the same millisecond with another value
 * refuses the request with 400 (nothing forwarded), one with the same value is counted as
 * merged. VictoriaMetrics' dedup would merge both silently; the counts make either visible.
 */
import { startProxy, type ProxiedRequest, type ProxyBehaviour, type ProxyOptions } from '../../dev/proxy'
import { MimirSamples, type SampleCounts } from './mimir-samples'

const FAULTS = {
  forward: { kind: 'forward' },
  'status-429': {
    kind: 'status',
    status: 429,
    headers: { 'retry-after': '1' },
    body: 'fault proxy: too many requests'
  },
  'status-503': { kind: 'status', status: 503, body: 'fault proxy: service unavailable' },
  hang: { kind: 'hang' },
  reset: { kind: 'reset' },
  'forward-then-drop': { kind: 'forward-then-drop' }
} as const satisfies Record<string, ProxyBehaviour>

export type Fault = keyof typeof FAULTS

export interface FaultyRequest extends ProxiedRequest {
  readonly fault: Fault
}

export interface FaultProxy {
  /** The base URL for a route; give the integration `${routeUrl(route)}/influx/write`. */
  routeUrl(route: string): string
  /** `faults` for the route's next requests, in order; `then` for every request after them. */
  script(route: string, faults: readonly Fault[], then?: Fault): void
  /** Every request of the route, in arrival order. */
  requestsFor(route: string): FaultyRequest[]
  /** What Mimir's duplicate rule saw in every write forwarded so far. */
  samples(): SampleCounts
  close(): Promise<void>
}

const WRITE_PATH = /\/write$/u

const faultOf = (behaviour: ProxyBehaviour): Fault =>
  (Object.keys(FAULTS) as Fault[]).find((name) => FAULTS[name] === behaviour)!

export const startFaultProxy = async (
  target: string,
  options: Pick<ProxyOptions, 'maxHangMs' | 'upstreamTimeoutMs'> = {}
): Promise<FaultProxy> => {
  const requests: ProxiedRequest[] = []
  const mimir = new MimirSamples()
  const proxy = await startProxy(target, {
    ...options,
    onRequest: (request) => requests.push(request),
    admit: ({ path, body }) => {
      const url = new URL(path, 'http://127.0.0.1')
      return WRITE_PATH.test(url.pathname) ? mimir.admit(body.toString('utf8'), url.searchParams) : undefined
    }
  })
  return {
    routeUrl: (route) => proxy.routeUrl(route),
    script: (route, faults, then = 'forward') =>
      proxy.script(
        route,
        faults.map((fault) => FAULTS[fault]),
        FAULTS[then]
      ),
    requestsFor: (route) =>
      requests.filter((r) => r.route === route).map((r) => ({ ...r, fault: faultOf(r.behaviour) })),
    samples: () => mimir.counts(),
    close: () => proxy.close()
  }
}
