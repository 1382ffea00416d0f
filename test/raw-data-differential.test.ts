/**
 * Differential validation of Send Raw Data: every corpus line is judged by our validator
 * (`parseRawData`) and by InfluxDB 1.6, whose parser is the package Grafana's influx endpoint
 * uses.
 *
 * - InfluxDB rejects (400, or 500 when its storage engine cannot read a field value that the
 *   parser let through, as Grafana's `Fields()` cannot) → we reject (any rule).
 * - InfluxDB accepts (204), we reject → the rule is one of our documented stricter rules
 *                                       (every `Rule` except 'syntax').
 * - We accept                         → InfluxDB accepts the line, and accepts what the card
 *                                       really sends (`<parsed text> <timestamp>`).
 * `parseRawData` returns [] for a blank line or a comment: that is "accepted, zero points"
 * (the card refuses an all-comment body at the action level; InfluxDB answers 204).
 *
 * One InfluxDB for the file, a fresh database per case (field types are per database), dropped
 * after the case; requests run with modest concurrency.
 */
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startInfluxDB, type RunningServer } from '../dev/servers'
import { INSTANCE_LABEL, INSTANCE_NAME_LENGTH, sanitizeName } from '../src/label-names'
import { LineProtocolError, parseRawData, type ParsedLine, type Rule } from '../src/line-protocol/validate'
import {
  escapeCases,
  generatedCases,
  handWrittenCases,
  joinedLineBodies,
  multiLineBodies,
  type CorpusCase
} from './fixtures/raw-data-corpus'

const SEED = 20_261_125
const GENERATED = Number(process.env.RAW_DATA_GENERATED ?? 300)
const ESCAPE_RUNS = Number(process.env.RAW_DATA_ESCAPE_RUNS ?? 300)
const CONCURRENCY = 6
const REQUEST_TIMEOUT_MS = 15_000

/**
 * Lines this test found our validator accepting while InfluxDB rejects them (fixed in
 * src/line-protocol/validate.ts since; kept as regressions): a field key that ends in an even
 * run of backslashes (`f\\`, `f\\\\`) right before `=` on the LAST field. InfluxDB's scanFields
 * skips `\\` as one escape and sees `=`, but its walkFields looks for an `=` not preceded by
 * `\`, runs to the end of the line and fails with `invalid value: field-key=f\\=1`.
 */
const REGRESSION_LINES: readonly string[] = [
  'm f\\\\=1', // m f\\=1
  'm g=2,f\\\\=1', // m g=2,f\\=1
  'm f=1,g\\\\=2', // m f=1,g\\=2
  'm f\\\\\\\\=1', // m f\\\\=1
  'm f=1,g\\\\\\\\=2' // m f=1,g\\\\=2
]

interface HttpAnswer {
  readonly status: number
  readonly text: string
}

/**
 * InfluxDB 1.6 crashes on a line whose last field value, as walkFields splits it, is a lone `"`
 * (its field iterator slices the quotes off a one-byte value), as in `m a\\="x=1,b="`; Grafana's
 * parser, the same code, panics there too. Such lines are not sent: our validator must refuse them.
 */
const CRASHES_INFLUXDB = /[^\\]=" *(?: -?[0-9]+ *)?$/u
const NOT_SENT: HttpAnswer = { status: 0, text: 'not sent: the line crashes InfluxDB 1.6' }

/**
 * 204 accepts. 400 is the parser's refusal; a 500 from the storage engine that cannot read a
 * field value or type is the refusal of a value the parser let through (Grafana's `Fields()`
 * refuses those too). Anything else is no verdict.
 */
const influxVerdict = (answer: HttpAnswer): 'accepts' | 'rejects' | undefined => {
  if (answer === NOT_SENT) return 'rejects'
  if (answer.status === 204) return 'accepts'
  if (answer.status === 400) return 'rejects'
  if (answer.status === 500 && /"error":"engine: (unable to parse|unknown field type)/u.test(answer.text))
    return 'rejects'
  return undefined
}

/** An instance name as the card writes it, in the instance tag it adds at `keyEnd`. */
const INSTANCE_NAME = '0123456789abc'.slice(0, INSTANCE_NAME_LENGTH)

/** A line as the card sends it: with the instance tag and a timestamp. */
const asSent = (line: ParsedLine, timestamp: number): string =>
  `${line.text.slice(0, line.keyEnd)},${INSTANCE_LABEL}=${INSTANCE_NAME}${line.text.slice(line.keyEnd)} ${timestamp}`

/**
 * POST with node:http: InfluxDB echoes the parse error (with the line's control characters) in
 * an X-Influxdb-Error header, which fetch refuses to read; the lenient parser takes it.
 */
const post = (url: string, body: string, contentType = 'text/plain; charset=utf-8'): Promise<HttpAnswer> =>
  new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        insecureHTTPParser: true,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { 'content-type': contentType }
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        res.on('error', reject)
      }
    )
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${REQUEST_TIMEOUT_MS} ms`)))
    req.on('error', reject)
    req.end(body)
  })

type OurVerdict =
  | { readonly accepted: true; readonly points: number; readonly texts: string[]; readonly parsed: ParsedLine[] }
  | {
      readonly accepted: false
      readonly rule: Rule | 'crash'
      readonly message: string
      readonly line: number
      readonly column: number
    }

const judgeOurs = (line: string): OurVerdict => {
  try {
    const parsed = parseRawData(line)
    return { accepted: true, points: parsed.length, texts: parsed.map((p) => p.text), parsed }
  } catch (error) {
    if (error instanceof LineProtocolError) {
      return { accepted: false, rule: error.rule, message: error.message, line: error.line, column: error.column }
    }
    return { accepted: false, rule: 'crash', message: String(error), line: 0, column: 0 }
  }
}

interface Outcome {
  readonly index: number
  readonly corpusCase: CorpusCase
  readonly influx: HttpAnswer
  readonly ours: OurVerdict
  /** For lines we accept: InfluxDB's answer to what the card sends (the line with the instance tag and a timestamp). */
  readonly sent?: HttpAnswer
  /**
   * For lines we accept: what InfluxDB stored, in the shape of our parse — the measurement as
   * `Name()` reads it, field keys with types, tag keys as Grafana labels. Undefined when
   * InfluxDB shows no single measurement (it loses one with an escaped backslash before a
   * comma, which it answers 204 for).
   */
  readonly stored?: string
  readonly expected?: string
}

const show = (s: string): string =>
  s.length > 120 ? `${JSON.stringify(s.slice(0, 120))}… (${s.length} chars)` : JSON.stringify(s)

describe('Send Raw Data validator vs InfluxDB 1.6', () => {
  let influx: RunningServer
  const corpus: CorpusCase[] = [
    ...handWrittenCases(),
    ...generatedCases(GENERATED, SEED),
    ...escapeCases(ESCAPE_RUNS, SEED)
  ]
  const outcomes: Outcome[] = []

  beforeAll(async () => {
    influx = await startInfluxDB()
  })
  afterAll(async () => {
    await influx?.stop()
  })

  const shape = (measurement: string, fields: string[], labels: string[]): string =>
    JSON.stringify({ measurement, fields: [...fields].sort(), labels: [...labels].sort() })

  /** The one measurement InfluxDB stored in `db`, its field keys with types and its tag keys (as labels). */
  const storedShape = async (db: string): Promise<string | undefined> => {
    const answer = await post(
      `${influx.url}/query?db=${db}`,
      new URLSearchParams({ q: 'SHOW FIELD KEYS; SHOW TAG KEYS' }).toString(),
      'application/x-www-form-urlencoded'
    )
    type Result = { series?: Array<{ name: string; values?: string[][] }> }
    const [fieldKeys, tagKeys] = (JSON.parse(answer.text) as { results: Result[] }).results
    const measurements = (fieldKeys?.series ?? []).map((s) => s.name)
    if (measurements.length !== 1) {
      return undefined
    }
    const fields = (fieldKeys!.series![0]!.values ?? []).map(([key, type]) => `${key}:${type}`)
    const labels = (tagKeys?.series?.[0]?.values ?? []).map(([key]) => sanitizeName(key!))
    return shape(measurements[0]!, fields, labels)
  }

  const judgeCase = async (index: number, corpusCase: CorpusCase, db: string): Promise<Outcome> => {
    if (CRASHES_INFLUXDB.test(corpusCase.line)) {
      return { index, corpusCase, influx: NOT_SENT, ours: judgeOurs(corpusCase.line) }
    }
    const query = (q: string) =>
      post(`${influx.url}/query`, new URLSearchParams({ q }).toString(), 'application/x-www-form-urlencoded')
    const created = await query(`CREATE DATABASE ${db}`)
    if (created.status !== 200) {
      throw new Error(`CREATE DATABASE ${db}: HTTP ${created.status} ${created.text}`)
    }
    try {
      const write = (body: string) => post(`${influx.url}/write?db=${db}&precision=ms`, body)
      const influxAnswer = await write(corpusCase.line)
      const ours = judgeOurs(corpusCase.line)
      let sent: HttpAnswer | undefined
      if (ours.accepted && ours.points > 0) {
        const timestamp = Date.UTC(2026, 0, 2, 3, 4, 5, 678)
        sent = await write(ours.parsed.map((line) => asSent(line, timestamp)).join('\n'))
      }
      let stored: string | undefined
      let expected: string | undefined
      if (ours.accepted && ours.points === 1 && influxAnswer.status === 204) {
        stored = await storedShape(db)
        const [p] = ours.parsed
        const labels = [...p!.tags.map(([label]) => label), INSTANCE_LABEL]
        expected = shape(
          p!.measurement,
          p!.fields.map((f) => `${f.key}:${f.type}`),
          labels
        )
      }
      return { index, corpusCase, influx: influxAnswer, ours, sent, stored, expected }
    } finally {
      await query(`DROP DATABASE ${db}`)
    }
  }

  it(
    'judges every corpus line with both parsers and finds no disagreement but the stricter rules',
    { timeout: 180_000 },
    async () => {
      expect(handWrittenCases().length).toBeGreaterThanOrEqual(100)
      expect(corpus.length).toBeGreaterThanOrEqual(300)
      expect(GENERATED).toBeGreaterThanOrEqual(200)
      for (const c of corpus) {
        expect(c.line, 'every case is a single line').not.toContain('\n')
      }

      let next = 0
      const worker = async () => {
        // Bounded: each worker takes at most corpus.length cases.
        for (let taken = 0; taken < corpus.length && next < corpus.length; taken++) {
          const index = next++
          outcomes.push(await judgeCase(index, corpus[index]!, `case_${index}`))
        }
      }
      await Promise.all(Array.from({ length: CONCURRENCY }, worker))
      outcomes.sort((a, b) => a.index - b.index)
      expect(outcomes.length).toBe(corpus.length)

      // The agreement table: InfluxDB's verdict × ours (accepted, or the rule we refused with).
      const table = new Map<string, Map<string, number>>()
      for (const o of outcomes) {
        const row = `influx ${o.influx.status}${influxVerdict(o.influx) === undefined ? '' : ` (${influxVerdict(o.influx)})`}`
        const column = o.ours.accepted
          ? o.ours.points === 0
            ? 'accepted, 0 points'
            : 'accepted'
          : `rejected: ${o.ours.rule}`
        const counts = table.get(row) ?? new Map<string, number>()
        counts.set(column, (counts.get(column) ?? 0) + 1)
        table.set(row, counts)
      }
      const printed = [...table.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .flatMap(([row, counts]) =>
          [...counts.entries()]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([column, n]) => `  ${row.padEnd(22)} × ours ${column.padEnd(34)} ${String(n).padStart(4)}`)
        )
      console.log(
        `Send Raw Data: ${corpus.length} lines (${corpus.length - GENERATED - ESCAPE_RUNS} hand-written, ${GENERATED} generated and ${ESCAPE_RUNS} around backslash runs with seed ${SEED})\n${printed.join('\n')}`
      )

      const disagreements: string[] = []
      const unreadable: string[] = []
      for (const o of outcomes) {
        const what = `#${o.index} ${show(o.corpusCase.line)} [${o.corpusCase.note}]`
        const influxSaid = o.influx.text.trim().slice(0, 200)
        const verdict = influxVerdict(o.influx)
        if (verdict === undefined) {
          disagreements.push(`${what}: InfluxDB answered ${o.influx.status} ${influxSaid}`)
          continue
        }
        if (o.ours.accepted) {
          if (verdict === 'rejects') {
            disagreements.push(`${what}: InfluxDB rejects (${influxSaid}), our validator accepts`)
          }
          if (o.sent !== undefined && o.sent.status !== 204) {
            disagreements.push(
              `${what}: we accept, but InfluxDB rejects what the card sends (${o.sent.status} ${o.sent.text.trim().slice(0, 200)})`
            )
          }
          if (o.stored === undefined && o.expected !== undefined) {
            unreadable.push(what)
          } else if (o.stored !== o.expected) {
            disagreements.push(
              `${what}: InfluxDB stored ${show(o.stored ?? '')}, our parse says ${show(o.expected ?? '')}`
            )
          }
          continue
        }
        if (o.ours.rule === 'crash') {
          disagreements.push(`${what}: our validator crashed: ${o.ours.message}`)
          continue
        }
        if (verdict === 'accepts' && o.ours.rule === 'syntax') {
          disagreements.push(`${what}: InfluxDB accepts, our validator says syntax: ${o.ours.message}`)
        }
        // Every refusal names a place on the line (a one-line body), except the body-size rule.
        if (o.ours.rule !== 'body-too-large') {
          const columns = [...o.corpusCase.line].length + 1
          if (o.ours.line !== 1 || o.ours.column < 1 || o.ours.column > columns) {
            disagreements.push(
              `${what}: refusal at line ${o.ours.line}, column ${o.ours.column} (the line has ${columns - 1} characters)`
            )
          }
        }
      }
      const compared = outcomes.filter((o) => o.expected !== undefined).length - unreadable.length
      console.log(
        `Stored shape (measurement, field keys, types, labels) compared for ${compared} accepted lines; InfluxDB answered 204 but shows no single measurement for ${unreadable.length}:\n  ${unreadable.join('\n  ')}`
      )
      expect(compared).toBeGreaterThanOrEqual(200)
      expect(disagreements).toEqual([])

      // The regression lines stay in the corpus, InfluxDB rejects them, and so do we.
      for (const line of REGRESSION_LINES) {
        const outcome = outcomes.find((o) => o.corpusCase.line === line)
        expect(outcome?.influx.status, show(line)).toBe(400)
        expect(outcome?.ours.accepted, show(line)).toBe(false)
      }
    }
  )

  it('judges bodies of several lines alike (a line feed inside a value: the line-break rule)', async () => {
    const results: string[] = []
    const disagreements: string[] = []
    for (const [index, body] of multiLineBodies.entries()) {
      const o = await judgeCase(index, { line: body, note: 'multi-line' }, `multi_${index}`)
      const ours = o.ours.accepted ? `accepted ${o.ours.points}` : `rejected: ${o.ours.rule}`
      results.push(`  ${show(body).padEnd(34)} influx ${o.influx.status}  ours ${ours}`)
      if (influxVerdict(o.influx) !== 'accepts' && o.ours.accepted) {
        disagreements.push(`${show(body)}: InfluxDB rejects, we accept`)
      }
      if (o.sent !== undefined && o.sent.status !== 204) {
        disagreements.push(`${show(body)}: InfluxDB rejects what the card sends: ${o.sent.text.trim()}`)
      }
      if (
        influxVerdict(o.influx) === 'accepts' &&
        !o.ours.accepted &&
        (o.ours.rule === 'syntax' || o.ours.rule === 'crash')
      ) {
        disagreements.push(`${show(body)}: InfluxDB accepts, we say ${o.ours.rule}`)
      }
      if (joinedLineBodies.includes(body)) {
        // InfluxDB reads one line with a line feed inside (Grafana would too); we refuse it, saying why.
        expect(o.influx.status, show(body)).toBe(204)
        expect(o.ours.accepted ? 'accepted' : o.ours.rule, show(body)).toBe('line-break')
      }
    }
    console.log(`Bodies of several lines:\n${results.join('\n')}`)
    expect(disagreements).toEqual([])
  })

  const ruleOf = (body: string): string => {
    try {
      parseRawData(body)
      return 'accepted'
    } catch (error) {
      return error instanceof LineProtocolError ? error.rule : `crash: ${String(error)}`
    }
  }

  it('reads a field value and a measurement as InfluxDB does where the escapes mislead', async () => {
    const misread = await judgeCase(0, { line: 'm \\\\="=1"', note: 'walkFields finds the value 1"' }, 'misread_value')
    expect((JSON.parse(misread.influx.text) as { error: string }).error).toContain(
      'unable to parse floating point value "1\\""'
    )
    expect(misread.ours).toMatchObject({
      accepted: false,
      rule: 'syntax',
      message: expect.stringContaining('unable to parse floating point value "1\\""')
    })

    const unescaped = await judgeCase(1, { line: 'cpu\\=load v=1', note: 'Name() unescapes \\=' }, 'unescaped_name')
    expect(unescaped.influx.status).toBe(204)
    expect(unescaped.stored).toBe(unescaped.expected)
    expect(unescaped.ours).toMatchObject({
      accepted: true,
      parsed: [{ measurement: 'cpu=load', series: ['cpu_load_v'] }]
    })
    expect(ruleOf('cpu\\=load v=1\ncpu=load v=2')).toBe('duplicate-series')
  })

  for (const body of joinedLineBodies) {
    // Found by this test: these were refused as 'syntax' ("unbalanced quotes", "missing fields").
    it(`refuses ${JSON.stringify(body)}, which InfluxDB reads as one line, with the line-break rule`, () => {
      expect(ruleOf(body)).toBe('line-break')
    })
  }

  // Found by this test: the 2048-byte series-name limit was checked for the first field only.
  it("refuses a later field whose series name exceeds 2048 bytes ('too-long')", () => {
    expect(ruleOf(`m a=1,${'f'.repeat(2100)}=2`)).toBe('too-long')
  })

  for (const line of REGRESSION_LINES) {
    it(`refuses ${JSON.stringify(line)}, as InfluxDB does (invalid value: field-key=…)`, () => {
      expect(ruleOf(line)).toBe('syntax')
    })
  }
})
