/** A minimal HTTP client for the bench's own calls: node:http over keep-alive sockets. */
import { Agent, request } from 'node:http'

export interface Answer {
  readonly status: number
  readonly text: string
}

/** One socket by default: calls one after another, as a bot's cards run within a conversation. */
export const keepAliveAgent = (maxSockets = 1): Agent => new Agent({ keepAlive: true, maxSockets })

export const post = (
  agent: Agent | undefined,
  url: string,
  headers: Record<string, string>,
  body: string
): Promise<Answer> =>
  new Promise<Answer>((resolve, reject) => {
    const payload = Buffer.from(body, 'utf8')
    const req = request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': String(payload.length) } },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      }
    )
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer from ${url} within 30 s`)))
    req.on('error', reject)
    req.end(payload)
  })
