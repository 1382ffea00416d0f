/**
 * The one configuration the rule groups are built from: which Send Metric names play which
 * part, and every threshold and window. Change a value here, run `npm run rules`, load the
 * regenerated file. docs/alerts.md explains each default.
 *
 * Durations are PromQL durations ("30s", "5m", "1h", "1w"); "0s" means no `for:` wait. The groups
 * carry no `interval:`: the ruler evaluates them at its default (Grafana Cloud, Mimir: 1m).
 */

export interface RulesConfig {
  /**
   * Send Metric names as given to the card (the series is `<name>_metric`): the one place the
   * names are set. The rules, the dashboard's defaults and its "Expected metrics" panel read them;
   * rename them here, then run `npm run rules` and `npm run dashboard`.
   */
  readonly metrics: {
    /** One event per message the bot handles: traffic, silence and the error rate's denominator. */
    readonly messages: string
    /** One event per error the bot hit. */
    readonly errors: string
    /** One event per answer, its value the response time in milliseconds. */
    readonly latency: string
    readonly flowStarted: string
    readonly flowCompleted: string
  }
  /** The window of the recorded per-window event counts and value sums ("per minute"). */
  readonly countWindow: string
  /** Where docs/alerts.md is published; each alert's runbook_url is this plus `#<its section>`. */
  readonly runbookBaseUrl: string
  readonly silent: {
    /** No message for this long on a bot and channel... */
    readonly window: string
    /** ...that had at least one message in this much time before it. */
    readonly lookback: string
    readonly for: string
  }
  readonly errorRate: {
    readonly window: string
    /** Errors per message, 0.05 = 5 %. */
    readonly threshold: number
    /** Fewer messages than this in the window never alert (one error in two messages is noise). */
    readonly minMessages: number
    readonly for: string
  }
  readonly latency: {
    readonly window: string
    /** The quantile recorded and alerted on, 0.95 = p95; the median is recorded too. */
    readonly quantile: number
    readonly thresholdMs: number
    readonly minSamples: number
    readonly for: string
  }
  readonly trafficDrop: {
    /** Messages in this window... */
    readonly window: string
    /** ...against the same window this long before. */
    readonly offset: string
    /** Alert when now / before falls below this: 0.5 = traffic halved. */
    readonly ratio: number
    /** Fewer messages than this in the earlier window never alert. */
    readonly minEventsBefore: number
    readonly for: string
  }
  readonly activeSeries: {
    /** The stack's active-series cap. */
    readonly limit: number
    /** Alert above this share of the limit. */
    readonly ratio: number
    /** A series is active while it got a sample this recently (Mimir: about 20 minutes). */
    readonly window: string
    readonly for: string
  }
  readonly writesStopped: {
    /** Nothing from any bot for this long... */
    readonly window: string
    /** ...after something arrived in this much time before it. */
    readonly lookback: string
    readonly for: string
  }
  readonly llmCost: {
    /** The LLM calls' cost (Send LLM Usage) of one bot over this window... */
    readonly window: string
    /** ...above this many US dollars alerts. */
    readonly budgetUsd: number
    readonly for: string
  }
  readonly expectedMetrics: {
    /** A bot that wrote a Send Metric event in this window, but none named metrics.messages (or metrics.latency)... */
    readonly window: string
    /** ...for this long alerts, naming the missing name. */
    readonly for: string
  }
  readonly samplesDiscarded: {
    /** Samples per second Grafana Cloud may discard before the alert fires. */
    readonly perSecond: number
    readonly for: string
  }
}

export const DEFAULT_RULES_CONFIG: RulesConfig = {
  metrics: {
    messages: 'message_received',
    errors: 'bot_error',
    latency: 'response_latency',
    flowStarted: 'flow_started',
    flowCompleted: 'flow_completed'
  },
  countWindow: '1m',
  runbookBaseUrl: 'https://github.com/Gordon-BP/bp-grafana/blob/main/docs/alerts.md',
  silent: { window: '15m', lookback: '1d', for: '5m' },
  errorRate: { window: '5m', threshold: 0.05, minMessages: 20, for: '10m' },
  latency: { window: '5m', quantile: 0.95, thresholdMs: 5000, minSamples: 20, for: '10m' },
  trafficDrop: { window: '1h', offset: '1w', ratio: 0.5, minEventsBefore: 50, for: '30m' },
  activeSeries: { limit: 10_000, ratio: 0.8, window: '20m', for: '15m' },
  writesStopped: { window: '15m', lookback: '1d', for: '5m' },
  llmCost: { window: '1d', budgetUsd: 10, for: '0s' },
  expectedMetrics: { window: '1d', for: '30m' },
  samplesDiscarded: { perSecond: 0, for: '10m' }
}
