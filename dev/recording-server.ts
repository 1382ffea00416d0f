/**
 * A local HTTP server that records every request byte for byte and answers each with the
 * behaviour scripted for it (./http-stand-in.ts): a status (with headers), a hang, or a reset.
 */
import type { IncomingMessage } from 'node:http'
import { listenStandIn, ok, Script, type Behaviour, type StandInOptions } from './http-stand-in'

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingMessage['headers']
  readonly body: Buffer
}

export interface RecordingServer {
  readonly url: string
  readonly requests: RecordedRequest[]
  /** Behaviours for the next requests, in order; once used up, every request gets `fallback`. */
  script(behaviours: Behaviour[], fallback?: Behaviour): void
  close(): Promise<void>
}

export const startRecordingServer = async (options: StandInOptions = {}): Promise<RecordingServer> => {
  const requests: RecordedRequest[] = []
  let script = new Script<Behaviour>([], ok)
  const stand = await listenStandIn(options, async (stand, req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body
    })
    await stand.perform(script.take().behaviour, req, res)
  })
  return {
    url: stand.url,
    requests,
    script(behaviours, fallback = ok) {
      script = new Script(behaviours, fallback)
    },
    close: () => stand.close()
  }
}
