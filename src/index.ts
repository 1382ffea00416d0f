import * as sdk from '@botpress/sdk'
import * as bp from '.botpress'
import { writeLines } from './client'
import { parseConfiguration } from './config'
import { UserFacingError } from './errors'
import { sendMetric } from './metric'
import { parseWith } from './parse'
import { sendRawData } from './raw-data'
import { sendMetricInputSchema, sendRawDataInputSchema } from './schemas'

type Logger = bp.HandlerProps['logger']

/**
 * Runs one operation and reports its failure as a RuntimeError: user-facing messages as they
 * are, anything else without its details (an HTTP client error carries the request, API key
 * included, and must never be logged or echoed).
 */
const run = async <T>(what: string, logger: Logger, operation: () => Promise<T>): Promise<T> => {
  try {
    return await operation()
  } catch (error) {
    const message =
      error instanceof UserFacingError
        ? `${what}: ${error.message}`
        : `${what}: an unexpected error occurred in the integration (${error instanceof Error ? error.name : typeof error}).`
    logger.forBot().error(message)
    throw new sdk.RuntimeError(message)
  }
}

const botLog = (logger: Logger) => ({ warn: (message: string) => logger.forBot().warn(message) })

export default new bp.Integration({
  register: async ({ ctx, logger }) =>
    run('Could not install the Grafana Cloud integration', logger, async () => {
      const config = parseConfiguration(ctx.configuration)
      await writeLines(config, '')
      logger.forBot().info(`Grafana Cloud accepted the credentials for user ${config.userId} at ${config.writeUrl}.`)
    }),
  unregister: async () => {},
  actions: {
    sendMetric: async ({ ctx, input, logger }) =>
      run('Send Metric failed', logger, async () => {
        const config = parseConfiguration(ctx.configuration)
        return sendMetric(config, parseWith('Invalid input', sendMetricInputSchema, input), ctx.botId, { log: botLog(logger) })
      }),
    sendRawData: async ({ ctx, input, logger }) =>
      run('Send Raw Data failed', logger, async () => {
        const config = parseConfiguration(ctx.configuration)
        return sendRawData(config, parseWith('Invalid input', sendRawDataInputSchema, input).data, { log: botLog(logger) })
      }),
  },
  channels: {},
  handler: async () => {},
})
