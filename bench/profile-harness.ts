/**
 * A hot loop for `bench/profile.ts`: bundled with a source map and run under `node --cpu-prof`.
 * argv[2]: encode-ours | encode-point | validate
 */
import { Point } from '@influxdata/influxdb-client'
import { parseRawData } from '../src/line-protocol/validate'
import { buildMetricEvent } from '../src/metric'
import { cases, mixedBody } from './encoding'

const mode = process.argv[2]
let sink = 0
if (mode === 'validate') {
  const { body } = mixedBody()
  for (let i = 0; i < 10; i++) sink += parseRawData(body).length
} else {
  const all = cases()
  for (let i = 0; i < 300_000; i++) {
    const c = all[i % all.length]!
    if (mode === 'encode-ours') {
      sink += buildMetricEvent(c.input, { botId: 'bot-bench', includeConversationAndUserIds: true }, c.timestamp).line.length
    } else {
      const { input } = c
      sink += new Point(input.name)
        .tag('channel', input.channel!)
        .tag('botId', input.botId!)
        .tag('version', String(input.version))
        .tag('flow', input.tags.flow!)
        .tag('step', input.tags.step!)
        .tag('conversationId', input.conversationId!)
        .tag('userId', input.userId!)
        .floatField('metric', input.value)
        .timestamp(c.timestamp)
        .toLineProtocol()!.length
    }
  }
}
if (sink === 0) throw new Error('nothing computed')
