import { triggerAction } from '../../dev/botpress'
import type { IntegrationProcess } from '../../dev/integration-process'
import { startRecordingServer } from '../../dev/recording-server'

/**
 * The name a process labels its samples with (`instance`), from one Send Metric call written to
 * a recording server, so no real server stores it.
 */
export const instanceOf = async (process: IntegrationProcess): Promise<string> => {
  const sink = await startRecordingServer()
  try {
    const configuration = { grafanaUrl: `${sink.url}/influx/write`, grafanaUserId: '1', apiKey: 'probe' }
    const answer = await triggerAction(process.url, configuration, 'sendMetric', { name: 'probe' })
    const instance = (answer.body as { output?: { labels?: { instance?: unknown } } }).output?.labels?.instance
    if (typeof instance !== 'string' || !/^[0-9a-z]{13}$/u.test(instance)) {
      throw new Error(`no instance name in the answer: ${answer.text.slice(0, 300)}`)
    }
    return instance
  } finally {
    await sink.close()
  }
}
