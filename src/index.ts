import * as sdk from '@botpress/sdk'
import { writeLines } from './client'
import { parseConfiguration } from './config'
import { describeFailure } from './errors'
import { sendLlmUsage } from './llm-usage'
import { sendLog } from './log'
import { pushLogs } from './loki'
import { sendMetric } from './metric'
import { parseWith } from './parse'
import { sendRawData } from './raw-data'
import { sendLlmUsageInputSchema, sendLogInputSchema, sendMetricInputSchema, sendRawDataInputSchema } from './schemas'
import * as bp from '.botpress'

type Logger = bp.HandlerProps['logger']
type Context = bp.HandlerProps['ctx']

/**
 * Runs one operation and reports its failure as a RuntimeError: user-facing messages as they
 * are, anything else with its message scrubbed of the API key (an error can quote the request
 * or the configuration it failed on).
 */
const run = async <T>(what: string, ctx: Context, logger: Logger, operation: () => Promise<T>): Promise<T> => {
  try {
    return await operation()
  } catch (error) {
    const message = describeFailure(what, error, ctx.configuration)
    logger.forBot().error(message)
    throw new sdk.RuntimeError(message)
  }
}

const botLog = (logger: Logger) => ({ warn: (message: string) => logger.forBot().warn(message) })

export default new bp.Integration({
  register: async ({ ctx, logger }) =>
    run('Could not install the Grafana Cloud integration', ctx, logger, async () => {
      const config = parseConfiguration(ctx.configuration)
      await writeLines(config, '')
      logger.forBot().info(`Grafana Cloud accepted the credentials for user ${config.userId} at ${config.writeUrl}.`)
      if (config.logs !== undefined) {
        await pushLogs(config.logs, config.apiKey, [])
        logger
          .forBot()
          .info(`Grafana Cloud Logs accepted the credentials for user ${config.logs.userId} at ${config.logs.pushUrl}.`)
      }
    }),
  unregister: async () => {},
  actions: {
    sendMetric: async ({ ctx, input, logger }) =>
      run('Send Metric failed', ctx, logger, async () => {
        const config = parseConfiguration(ctx.configuration)
        return sendMetric(config, parseWith('Invalid input', sendMetricInputSchema, input), ctx.botId, {
          log: botLog(logger)
        })
      }),
    sendRawData: async ({ ctx, input, logger }) =>
      run('Send Raw Data failed', ctx, logger, async () => {
        const config = parseConfiguration(ctx.configuration)
        return sendRawData(config, parseWith('Invalid input', sendRawDataInputSchema, input).data, {
          log: botLog(logger)
        })
      }),
    sendLog: async ({ ctx, input, logger }) =>
      run('Send Log failed', ctx, logger, async () => {
        const config = parseConfiguration(ctx.configuration)
        return sendLog(config, parseWith('Invalid input', sendLogInputSchema, input), ctx.botId, {
          log: botLog(logger)
        })
      }),
    sendLlmUsage: async ({ ctx, input, logger }) =>
      run('Send LLM Usage failed', ctx, logger, async () => {
        const config = parseConfiguration(ctx.configuration)
        return sendLlmUsage(config, parseWith('Invalid input', sendLlmUsageInputSchema, input), ctx.botId, {
          log: botLog(logger)
        })
      })
  },
  channels: {},
  handler: async () => {}
})
