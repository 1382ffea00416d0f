/**
 * JSON as Loki's push path reads it and its query path writes it.
 *
 * Reading: Loki walks a push body with grafana/jsonparser, which hands over the raw text of each
 * value and unescapes only what it is asked to: lines, label names and values, and (since Loki
 * 3.6) structured-metadata values, but not structured-metadata names nor timestamps. So this
 * reader keeps every value's source text, and `unescape` follows jsonparser's rules: `\ud800`
 * without a low surrogate after it is an error (JSON.parse would accept it), raw control
 * characters inside a string are not.
 *
 * Writing: jsoniter's `WriteString` (labels) and `WriteStringWithHTMLEscaped` (lines), byte for
 * byte: `\n`, `\r`, `\t` short, other control characters as `\u00XX`, and for lines `<`, `>`, `&`,
 * U+2028 and U+2029 escaped too.
 */

export type JsonNode =
  | { readonly kind: 'object'; readonly start: number; readonly end: number; readonly members: JsonMember[] }
  | { readonly kind: 'array'; readonly start: number; readonly end: number; readonly items: JsonNode[] }
  | {
      readonly kind: 'string' | 'number' | 'true' | 'false' | 'null'
      readonly start: number
      readonly end: number
    }

export interface JsonMember {
  readonly key: JsonNode
  readonly value: JsonNode
}

/** jsonparser's and jsoniter's error texts, the ones a push body can meet. */
export const JSON_ERRORS = {
  malformedJson: 'Malformed JSON error',
  malformedString: "Value is string, but can't find closing '\"' symbol",
  malformedArray: "Value is array, but can't find closing ']' symbol",
  malformedObject: "Value looks like object, but can't find closing '}' symbol",
  malformedValue: "Value looks like Number/Boolean/None, but can't find its end: ',' or '}' symbol",
  overflowInteger: 'Value is number, but overflowed while parsing',
  malformedEscape: 'Encountered an invalid escape sequence in a string'
} as const

export class JsonError extends Error {}

const isSpace = (code: number): boolean => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d

/** A strict JSON reader that keeps each value's position in `text` instead of its value. */
export const readJson = (text: string): JsonNode => {
  let at = 0
  const skipSpace = (): void => {
    while (at < text.length && isSpace(text.charCodeAt(at))) {
      at++
    }
  }
  const fail = (): never => {
    throw new JsonError(JSON_ERRORS.malformedJson)
  }
  const readString = (): JsonNode => {
    const start = at
    at++
    while (at < text.length) {
      const code = text.charCodeAt(at)
      if (code === 0x5c) {
        at += 2
      } else if (code === 0x22) {
        at++
        return { kind: 'string', start, end: at }
      } else {
        at++
      }
    }
    throw new JsonError(JSON_ERRORS.malformedString)
  }
  const readValue = (depth: number): JsonNode => {
    if (depth > 1_000) {
      fail()
    }
    skipSpace()
    const start = at
    const char = text[at]
    if (char === '"') {
      return readString()
    }
    if (char === '{') {
      at++
      const members: JsonMember[] = []
      skipSpace()
      if (text[at] === '}') {
        at++
        return { kind: 'object', start, end: at, members }
      }
      for (;;) {
        skipSpace()
        if (text[at] !== '"') {
          throw new JsonError(JSON_ERRORS.malformedObject)
        }
        const key = readString()
        skipSpace()
        if (text[at] !== ':') {
          throw new JsonError(JSON_ERRORS.malformedObject)
        }
        at++
        members.push({ key, value: readValue(depth + 1) })
        skipSpace()
        if (text[at] === ',') {
          at++
        } else if (text[at] === '}') {
          at++
          return { kind: 'object', start, end: at, members }
        } else {
          throw new JsonError(JSON_ERRORS.malformedObject)
        }
      }
    }
    if (char === '[') {
      at++
      const items: JsonNode[] = []
      skipSpace()
      if (text[at] === ']') {
        at++
        return { kind: 'array', start, end: at, items }
      }
      for (;;) {
        items.push(readValue(depth + 1))
        skipSpace()
        if (text[at] === ',') {
          at++
        } else if (text[at] === ']') {
          at++
          return { kind: 'array', start, end: at, items }
        } else {
          throw new JsonError(JSON_ERRORS.malformedArray)
        }
      }
    }
    for (const literal of ['true', 'false', 'null'] as const) {
      if (text.startsWith(literal, at)) {
        at += literal.length
        return { kind: literal, start, end: at }
      }
    }
    const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/uy
    number.lastIndex = at
    if (number.exec(text) !== null && number.lastIndex > at) {
      at = number.lastIndex
      return { kind: 'number', start, end: at }
    }
    return fail()
  }
  const root = readValue(0)
  skipSpace()
  if (at !== text.length) {
    fail()
  }
  return root
}

/** The source text of a node; for a string, what lies between its quotes (escapes included). */
export const rawText = (text: string, node: JsonNode): string =>
  node.kind === 'string' ? text.slice(node.start + 1, node.end - 1) : text.slice(node.start, node.end)

const SHORT_UNESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t'
}

const hexAt = (raw: string, at: number): number | undefined =>
  /^[0-9a-fA-F]{4}$/u.test(raw.slice(at, at + 4)) ? parseInt(raw.slice(at, at + 4), 16) : undefined

/**
 * jsonparser's `Unescape`: a `\u` escape in the surrogate range must be followed by a second
 * `\u` escape of at least DC00; the pair becomes one code point (U+FFFD when it is none).
 */
export const unescape = (raw: string): string => {
  if (!raw.includes('\\')) {
    return raw
  }
  let out = ''
  let at = 0
  while (at < raw.length) {
    const next = raw.indexOf('\\', at)
    if (next === -1) {
      out += raw.slice(at)
      break
    }
    out += raw.slice(at, next)
    const kind = raw[next + 1] ?? ''
    const short = SHORT_UNESCAPES[kind]
    if (short !== undefined) {
      out += short
      at = next + 2
      continue
    }
    const first = kind === 'u' ? hexAt(raw, next + 2) : undefined
    if (first === undefined) {
      throw new JsonError(JSON_ERRORS.malformedEscape)
    }
    if (first < 0xd800 || first > 0xdfff) {
      out += String.fromCharCode(first)
      at = next + 6
      continue
    }
    const second = raw.startsWith('\\u', next + 6) ? hexAt(raw, next + 8) : undefined
    if (second === undefined || second < 0xdc00) {
      throw new JsonError(JSON_ERRORS.malformedEscape)
    }
    const combined = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
    out += combined <= 0x10ffff && (combined < 0xd800 || combined > 0xdfff) ? String.fromCodePoint(combined) : '\ufffd'
    at = next + 12
  }
  return out
}

/** jsonparser's `ParseInt` on a raw value: `-`, digits, no leading zero, within int64. */
export const parseJsonInt = (raw: string): bigint => {
  if (!/^-?(?:0|[1-9]\d*)$/u.test(raw)) {
    throw new JsonError(JSON_ERRORS.malformedValue)
  }
  const value = BigInt(raw)
  if (value > 2n ** 63n - 1n || value < -(2n ** 63n)) {
    throw new JsonError(JSON_ERRORS.overflowInteger)
  }
  return value
}

const HEX = '0123456789abcdef'
const HTML_ESCAPED = new Set(['<', '>', '&', '\u2028', '\u2029'])

/** A JSON string as jsoniter writes it; `html` for `WriteStringWithHTMLEscaped` (log lines). */
export const jsonString = (text: string, html: boolean): string => {
  let out = '"'
  let from = 0
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string
    const code = text.charCodeAt(i)
    let escaped: string | undefined
    if (char === '"' || char === '\\') {
      escaped = `\\${char}`
    } else if (char === '\n') {
      escaped = '\\n'
    } else if (char === '\r') {
      escaped = '\\r'
    } else if (char === '\t') {
      escaped = '\\t'
    } else if (code < 0x20) {
      escaped = `\\u00${HEX[code >> 4]}${HEX[code & 0xf]}`
    } else if (html && HTML_ESCAPED.has(char)) {
      escaped = `\\u${code.toString(16).padStart(4, '0')}`
    }
    if (escaped !== undefined) {
      out += text.slice(from, i) + escaped
      from = i + 1
    }
  }
  return `${out}${text.slice(from)}"`
}
