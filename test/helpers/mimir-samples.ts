/**
 * Mimir's rule for samples that share a millisecond, kept across requests as Mimir keeps it:
 * a series holds one sample per millisecond; a second one with the same value is merged without
 * a word, one with another value is refused (`err-mimir-sample-duplicate-timestamp`, 400).
 *
 * Series are named as Grafana names them (src/line-protocol/names.ts): `<measurement>_<field>`
 * sanitised, with the tags as labels, so two lines that Grafana stores as one series are one here.
 * Lines come from the integration: line protocol with millisecond timestamps, no string fields.
 */
import { sanitizeName } from '../../src/label-names'
import { seriesName } from '../../src/line-protocol/names'

export interface SampleCounts {
  /** Samples at a millisecond their series had not used. */
  readonly accepted: number
  /** Samples at a used millisecond with the same value: Mimir keeps one, silently. */
  readonly merged: number
  /** Requests refused because a sample reused a millisecond with another value. */
  readonly refusedRequests: number
}

/** `text` cut at every `separator` that is neither escaped by a backslash nor inside quotes. */
const splitUnescaped = (text: string, separator: string): string[] => {
  const parts: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\\') {
      i++
    } else if (c === '"') {
      quoted = !quoted
    } else if (c === separator && !quoted) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}

/** A field value as the number Mimir stores: booleans as 1 and 0, integers without their `i`. */
const numeric = (value: string): number => {
  if (/^[tTfF]/u.test(value)) {
    return /^[tT]/u.test(value) ? 1 : 0
  }
  return Number(value.endsWith('i') ? value.slice(0, -1) : value)
}

const unescape = (text: string): string => text.replace(/\\([,= "\\])/gu, '$1')

/** Each sample of one line as [series identity, millisecond, value]. */
const samplesOf = (line: string): Array<[string, number, number]> => {
  const [key, fields, timestamp] = splitUnescaped(line, ' ')
  if (key === undefined || fields === undefined || timestamp === undefined) {
    throw new Error(`mimir-samples: a line without fields or timestamp: ${JSON.stringify(line.slice(0, 80))}`)
  }
  const [measurement, ...tags] = splitUnescaped(key, ',')
  const labels = tags
    .map((tag) => splitUnescaped(tag, '=').map(unescape))
    .map(([name, value]) => `${sanitizeName(name!)}=${JSON.stringify(value)}`)
    .sort()
    .join(',')
  return splitUnescaped(fields, ',').map((field) => {
    const [name, value] = splitUnescaped(field, '=')
    return [`${seriesName(unescape(measurement!), unescape(name!))}{${labels}}`, Number(timestamp), numeric(value!)]
  })
}

export class MimirSamples {
  private readonly _seen = new Map<string, number>()
  private _accepted = 0
  private _merged = 0
  private _refusedRequests = 0

  /**
   * Takes the samples of a write body, or refuses the whole request: returns the refusal's text
   * (nothing taken) or undefined.
   */
  public admit(body: string, query: URLSearchParams): string | undefined {
    if (query.get('precision') !== 'ms') {
      throw new Error('mimir-samples: the integration writes with precision=ms')
    }
    const samples = body
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'))
      .flatMap(samplesOf)
    const inRequest = new Map<string, number>()
    for (const [series, ms, value] of samples) {
      const slot = `${series}@${ms}`
      const earlier = this._seen.get(slot) ?? inRequest.get(slot)
      if (earlier !== undefined && earlier !== value) {
        this._refusedRequests++
        return `err-mimir-sample-duplicate-timestamp: the series ${series} has a sample at ${ms} with another value (${earlier}, now ${value})`
      }
      inRequest.set(slot, value)
    }
    for (const [series, ms, value] of samples) {
      const slot = `${series}@${ms}`
      if (this._seen.has(slot)) {
        this._merged++
      } else {
        this._seen.set(slot, value)
        this._accepted++
      }
    }
    return undefined
  }

  public counts(): SampleCounts {
    return { accepted: this._accepted, merged: this._merged, refusedRequests: this._refusedRequests }
  }
}
