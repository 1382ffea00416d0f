/**
 * 6. Logs: Send Log through the 20 ms round trip against the sdk floor pushing the same JSON to
 * the Loki stand-in through the same proxy; and Send Metric with its trail ("Also log every
 * event": the sample and its log line written at once) against Send Metric alone, with the same
 * configuration but the trail.
 */
import { cpuMs } from '../dev/processes'
import { measure, rowsFor, type LatencyOptions } from './latency'
import { keepAliveAgent } from './lib/http'
import { metricInput } from './lib/inputs'
import { verdict, type Row, type Section } from './lib/report'
import { ONE_WAY_DELAY_MS, type Stage } from './lib/stage'
import { median, ms, p99, ratio } from './lib/stats'

/** The two writes go out at once: the trail costs a call no more than a second round trip would not. */
const TRAIL_TARGET = 1.05

/** A Send Log call as a flow makes it: level, event, IDs and two attributes. */
const logInput = {
  message: 'Payment declined: card expired',
  level: 'warning',
  event: 'payment_declined',
  channel: 'webchat',
  botId: 'bot-bench',
  conversationId: 'conv_0x7f3a9c',
  userId: 'user_4b1e2d',
  version: '1.4.2',
  attributes: { orderId: 'A-1042', amount: 35.2 }
}

/** CPU per call of our serving process over `calls` calls of `call`, one after another. */
const cpuPerCall = async (stage: Stage, calls: number, call: () => Promise<unknown>): Promise<number> => {
  const before = cpuMs(stage.oursPid)
  for (let i = 0; i < calls; i++) await call()
  return (cpuMs(stage.oursPid) - before) / calls
}

export const runLogs = async (stage: Stage, options: LatencyOptions): Promise<Section> => {
  const oursAgent = keepAliveAgent()
  const floorAgent = keepAliveAgent()
  try {
    const parts = await stage.pushOf('sendLog', logInput, { logs: 'on' })
    const sendLog = await measure(
      stage,
      options,
      () => stage.ours(oursAgent, 'sendLog', logInput, { logs: 'on' }),
      () => stage.floorPush(floorAgent, parts)
    )

    // Both sides are our process: the times alternate call by call; the CPU is measured in blocks.
    const metric = metricInput('flow_trail')
    const trail = () => stage.ours(oursAgent, 'sendMetric', metric, { logs: 'trail' })
    const alone = () => stage.ours(floorAgent, 'sendMetric', metric, { logs: 'on' })
    const { times } = await measure(stage, options, trail, alone)
    const cpuCalls = Math.max(20, Math.floor(options.calls / 2))
    const cpu = { trail: await cpuPerCall(stage, cpuCalls, trail), alone: await cpuPerCall(stage, cpuCalls, alone) }
    const trailRows: Row[] = (
      [
        ['median', median, true],
        ['p99', p99, false]
      ] as const
    ).map(([stat, of, targeted]) => {
      const r = of(times.ours) / of(times.floor)
      return {
        figure: `Send Metric with its trail, time per call, ${stat}`,
        ours: ms(of(times.ours)),
        floor: `${ms(of(times.floor))} (Send Metric alone)`,
        ratio: ratio(r),
        target: targeted ? `≤ ${TRAIL_TARGET}` : '—',
        verdict: targeted ? verdict(r <= TRAIL_TARGET) : 'info'
      }
    })
    trailRows.push({
      figure: 'Send Metric with its trail, CPU per call of the serving process',
      ours: ms(cpu.trail),
      floor: `${ms(cpu.alone)} (Send Metric alone)`,
      ratio: ratio(cpu.trail / cpu.alone),
      target: '—',
      verdict: 'info'
    })
    return {
      title: '6. Logs: Send Log and the trail through a 20 ms round trip',
      rows: [...rowsFor('Send Log', sendLog), ...trailRows],
      notes: [
        `${options.calls} calls per side after ${options.warmup} warm-up calls, one after another, the two sides alternating ` +
          'call by call; p99 by nearest rank. Our bundle is served and called as in section 1, its logs endpoint the ' +
          'Loki stand-in (dev/loki.ts, in the bench process) behind a second proxy that holds every request and answer ' +
          `${ONE_WAY_DELAY_MS} ms.`,
        "**Send Log against the sdk floor**: the floor's action `push` is given the exact JSON our Send Log pushed for " +
          'the same input (caught at the proxy before the run), cut at its timestamp; it puts its own time there and POSTs ' +
          'the body with plain axios. Both push the same bytes but the time.',
        '**Send Metric with its trail against Send Metric alone**: both our bundle, with the logs endpoint configured, ' +
          '"Also log every event" on for one side and off for the other; with it on, the sample and the log line go out ' +
          'at once and the call answers when both are stored. Two keep-alive sockets, one per side. The CPU rows come ' +
          `from two blocks of ${cpuCalls} calls after the timed ones (one process serves both sides), so they are indicative.`
      ]
    }
  } finally {
    oursAgent.destroy()
    floorAgent.destroy()
  }
}
