/**
 * `detected_level`, the structured metadata Loki 3.4 adds to every entry when
 * `discover_log_levels` is on (pkg/distributor/field_detection.go):
 *
 *  1. the value of the first level field among the stream labels, as it is (not normalised);
 *  2. else of the entry's structured metadata, as it is (an empty value adds nothing);
 *  3. else from OpenTelemetry's `severity_number` metadata;
 *  4. else from the line: a JSON object's top-level level field, or a logfmt line's level key
 *     (any case), mapped to trace, debug, info, warn, error, critical or fatal; when that finds
 *     no known value, words in the line (`info`, `error`, `warning`, `debug:`…); else `unknown`.
 */
import { readJson, rawText } from './json'
import type { Labels } from './labels'

/** Loki's default `log_level_fields`, in priority order. */
const LEVEL_FIELDS = ['level', 'LEVEL', 'Level', 'Severity', 'severity', 'SEVERITY', 'lvl', 'LVL', 'Lvl']

const LEVEL_WORDS: ReadonlyArray<[string, readonly string[]]> = [
  ['trace', ['trace', 'trc']],
  ['debug', ['debug', 'dbg']],
  ['info', ['info', 'inf']],
  ['warn', ['warn', 'wrn', 'warning']],
  ['error', ['error', 'err']],
  ['critical', ['critical']],
  ['fatal', ['fatal']]
]

/** OpenTelemetry severity numbers: 1–4 trace, 5–8 debug, … 21–24 fatal. */
const OTLP_SEVERITIES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal']

const containsAny = (line: string, words: readonly string[]): boolean => words.some((word) => line.includes(word))

const levelFromWords = (line: string): string => {
  if (containsAny(line, ['info:', 'INFO:', 'info', 'INFO'])) return 'info'
  if (containsAny(line, ['err:', 'ERR:', 'error', 'ERROR'])) return 'error'
  if (containsAny(line, ['warn:', 'WARN:', 'warning', 'WARNING'])) return 'warn'
  if (containsAny(line, ['CRITICAL:', 'critical:'])) return 'critical'
  if (containsAny(line, ['debug:', 'DEBUG:'])) return 'debug'
  return 'unknown'
}

const levelFromOtlp = (severityNumber: string): string => {
  if (!/^[+-]?\d+$/u.test(severityNumber)) {
    return 'info'
  }
  const n = Number(severityNumber)
  return n === 0 || n > 24 ? 'unknown' : (OTLP_SEVERITIES[Math.max(0, Math.ceil(n / 4) - 1)] as string)
}

/** The raw value of a top-level key of a JSON object line (jsonparser.Get), first hint first. */
const jsonLevelValue = (line: string): string | undefined => {
  let root
  try {
    root = readJson(line)
  } catch {
    return undefined
  }
  if (root.kind !== 'object') {
    return undefined
  }
  for (const field of LEVEL_FIELDS) {
    const member = root.members.find(({ key }) => rawText(line, key) === field)
    if (member !== undefined) {
      return rawText(line, member.value)
    }
  }
  return undefined
}

/** go-logfmt's key/value pairs of a line, up to its first syntax error. */
const logfmtPairs = (line: string): Array<[string, string]> => {
  const pairs: Array<[string, string]> = []
  const token = /\s*([^\s="]+)(?:=(?:"((?:[^"\\]|\\.)*)"|([^\s="]*)))?(?=\s|$)/uy
  let match
  while (token.lastIndex < line.length && (match = token.exec(line)) !== null) {
    const [, key = '', quoted, bare] = match
    let value = bare ?? ''
    if (quoted !== undefined) {
      try {
        value = JSON.parse(`"${quoted}"`) as string
      } catch {
        break
      }
    }
    pairs.push([key, value])
  }
  return pairs
}

/** The value of the logfmt key matching the highest-priority level field, ignoring case. */
const logfmtLevelValue = (line: string): string | undefined => {
  let best: string | undefined
  let bestRank = LEVEL_FIELDS.length
  for (const [key, value] of logfmtPairs(line)) {
    const rank = LEVEL_FIELDS.findIndex((field) => field.toLowerCase() === key.toLowerCase())
    if (rank !== -1 && rank < bestRank) {
      best = value
      bestRank = rank
    }
  }
  return best
}

const isJsonLine = (line: string): boolean => {
  const trimmed = line.trim()
  return trimmed.startsWith('{') && trimmed.endsWith('}')
}

const levelFromLine = (line: string): string => {
  let value: string | undefined
  if (isJsonLine(line)) {
    value = jsonLevelValue(line)
  } else if (line.includes('=')) {
    value = logfmtLevelValue(line)
  } else {
    return levelFromWords(line)
  }
  const lower = value?.toLowerCase()
  const known = LEVEL_WORDS.find(([, words]) => lower !== undefined && words.includes(lower))
  return known?.[0] ?? levelFromWords(line)
}

const firstLevelField = (has: (name: string) => boolean): string | undefined => LEVEL_FIELDS.find(has)

/** The entry's `detected_level`, or undefined when Loki adds none (an empty level metadata value). */
export const detectLevel = (
  streamLabels: Labels,
  metadata: ReadonlyMap<string, string>,
  line: string
): string | undefined => {
  const labelField = firstLevelField((name) => streamLabels.some(([n]) => n === name))
  if (labelField !== undefined) {
    return streamLabels.find(([n]) => n === labelField)?.[1]
  }
  const metadataField = firstLevelField((name) => metadata.has(name))
  if (metadataField !== undefined) {
    const value = metadata.get(metadataField) ?? ''
    return value === '' ? undefined : value
  }
  const severityNumber = metadata.get('severity_number') ?? ''
  return severityNumber !== '' ? levelFromOtlp(severityNumber) : levelFromLine(line)
}
