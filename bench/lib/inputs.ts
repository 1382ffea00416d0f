/** The card inputs the benchmarks send. */

/** A Send Metric event as a flow sends it: every label filled, two extra labels, a value. */
export const metricInput = (name = 'flow_completed') => ({
  name,
  channel: 'webchat',
  botId: 'bot-bench',
  conversationId: 'conv_0x7f3a9c',
  userId: 'user_4b1e2d',
  version: '1.4.2',
  value: 250.5,
  tags: { flow: 'checkout', step: 'payment' }
})

/**
 * Line `i` of a Send Raw Data body: four shapes (tags, several fields, integers, booleans,
 * escapes), each line its own series.
 */
const rawLine = (i: number): string => {
  switch (i % 4) {
    case 0:
      return `checkout,flow=cart,step=s${i},channel=webchat amount=35.2,items=3i`
    case 1:
      return `latency,route=/api/v${i},method=POST value=${(i * 1.37).toFixed(2)}`
    case 2:
      return `nlu_confidence,intent=intent_${i},lang=en score=0.${(i * 37) % 100},matched=true`
    default:
      return `queue_depth,queue=q\\ ${i},region=eu\\,west value=${i}i`
  }
}

export const rawData = (lines: number): string => Array.from({ length: lines }, (_, i) => rawLine(i)).join('\n')

/** As many lines as fit in `bytes`, then `lastLine`. */
export const rawDataOfSize = (bytes: number, lastLine: string): { data: string; lines: number } => {
  const lines: string[] = []
  let size = Buffer.byteLength(lastLine)
  for (let i = 0; ; i++) {
    const line = rawLine(i)
    if (size + line.length + 1 > bytes) break
    lines.push(line)
    size += line.length + 1
  }
  lines.push(lastLine)
  return { data: lines.join('\n'), lines: lines.length }
}
