/** A minimal HTTP client for the bench's own calls: node:http over one keep-alive socket per target. */
import { Agent, request } from 'node:http'

export interface Answer {
  readonly status: number
  readonly text: string
}

/** One keep-alive socket: calls are sequential, as a bot's cards are within a conversation. */
export const keepAliveAgent = (): Agent => new Agent({ keepAlive: true, maxSockets: 1 })

export const post = (agent: Agent | undefined, url: string, headers: Record<string, string>, body: string): Promise<Answer> =>
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
