import * as sdk from '@botpress/sdk'
import type { z } from '@botpress/sdk'
import type { WriteOptions } from './client'
import { parseConfiguration, type Configuration } from './config'
import { describeFailure } from './errors'
import { sendLlmUsage } from './llm-usage'
import { sendLog } from './log'
import { sendMetric } from './metric'
import { parseWith } from './parse'
import { sendRawData } from './raw-data'
import { install } from './register'
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

/**
 * A card's handler: parse the configuration and the input with its published schema, call the
 * card's one function, and report a failure as `what` failed.
 */
const card =
  <S extends z.ZodTypeAny, R>(
    what: string,
    schema: S,
    send: (config: Configuration, input: z.infer<S>, botId: string, options: WriteOptions) => Promise<R>
  ) =>
  async ({ ctx, input, logger }: { ctx: Context; input: unknown; logger: Logger }): Promise<R> =>
    run(what, ctx, logger, async () =>
      send(parseConfiguration(ctx.configuration), parseWith('Invalid input', schema, input), ctx.botId, {
        log: botLog(logger)
      })
    )

export default new bp.Integration({
  register: async ({ ctx, logger }) =>
    run('Could not install the Grafana Cloud integration', ctx, logger, async () => {
      for (const line of await install(parseConfiguration(ctx.configuration))) {
        logger.forBot().info(line)
      }
    }),
  unregister: async () => {},
  actions: {
    sendMetric: card('Send Metric failed', sendMetricInputSchema, sendMetric),
    sendRawData: card('Send Raw Data failed', sendRawDataInputSchema, (config, input, _botId, options) =>
      sendRawData(config, input.data, options)
    ),
    sendLog: card('Send Log failed', sendLogInputSchema, sendLog),
    sendLlmUsage: card('Send LLM Usage failed', sendLlmUsageInputSchema, sendLlmUsage)
  },
  channels: {},
  handler: async () => {}
})
