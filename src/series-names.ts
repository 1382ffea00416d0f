/**
 * The series and labels the cards write, named once: the cards write them, and the recording
 * and alerting rules, the dashboard and the export script's defaults read them.
 */
import { sanitizeName } from './label-names'
import { seriesName } from './line-protocol/names'

/** The field every Send Metric line carries: the event `flow_completed` is the series `flow_completed_metric`. */
export const SEND_METRIC_FIELD = 'metric'

/** The series a Send Metric card named `name` writes. */
export const sendMetricSeries = (name: string): string => seriesName(sanitizeName(name), SEND_METRIC_FIELD)

/** A `__name__` regular expression that matches every Send Metric series and nothing the other cards write. */
export const SEND_METRIC_SERIES_PATTERN = `.+_${SEND_METRIC_FIELD}`

/**
 * Send LLM Usage's measurement, after the OpenTelemetry GenAI semantic conventions written the
 * way Prometheus names them.
 */
export const LLM_MEASUREMENT = 'gen_ai_client'

/**
 * The fields of Send LLM Usage's lines. None is named `value`, which Grafana stores as the bare
 * measurement and VictoriaMetrics as `<measurement>_value`.
 */
export const LLM_FIELDS = {
  /** 1 per call, so every call counts, whatever else is known about it. */
  operations: 'operations',
  duration: 'operation_duration_seconds',
  cost: 'cost_usd',
  tokens: 'token_usage'
} as const

/** The series of Send LLM Usage, by field. */
export const LLM_SERIES = {
  operations: seriesName(LLM_MEASUREMENT, LLM_FIELDS.operations),
  duration: seriesName(LLM_MEASUREMENT, LLM_FIELDS.duration),
  cost: seriesName(LLM_MEASUREMENT, LLM_FIELDS.cost),
  tokens: seriesName(LLM_MEASUREMENT, LLM_FIELDS.tokens)
} as const

/** The label that tells a token count's kind, as in the conventions' `gen_ai.token.type`. */
export const TOKEN_TYPE_LABEL = 'gen_ai_token_type'

/** The labels Send LLM Usage fills from its own fields, by the conventions' attribute names. */
export const LLM_LABELS = {
  provider: 'gen_ai_provider_name',
  model: 'gen_ai_request_model',
  operation: 'gen_ai_operation_name',
  stopReason: 'gen_ai_response_finish_reason',
  errorType: 'error_type'
} as const
