/**
 * The part of LogQL the project's clients send: a stream selector (`=`, `!=`, `=~`, `!~`), line
 * filters (`|=`, `!=`, `|~`, `!~`) and label filters on stream labels and structured metadata
 * (`| conversationId="c1"`). Strings are Go strings: "…" with Go escapes or `…` raw.
 *
 * Regular expressions are RE2 in Loki; here they run as JavaScript ones (with a leading `(?i)`,
 * `(?s)` or `(?m)` turned into flags), which agree on the usual syntax. Label matchers are
 * anchored and let `.` match a newline (Prometheus' `^(?s:…)$`); line filters are not anchored.
 *
 * Anything else (parsers such as `| json`, formatting stages, metric queries) is refused with
 * 501 rather than answered wrongly.
 */
export type MatchOp = '=' | '!=' | '=~' | '!~'
export type LineOp = '|=' | '!=' | '|~' | '!~'

export interface Matcher {
  readonly name: string
  readonly op: MatchOp
  readonly value: string
  matches(value: string): boolean
}

export type Stage =
  | { readonly kind: 'line'; readonly op: LineOp; readonly value: string; test(line: string): boolean }
  | { readonly kind: 'label'; readonly matcher: Matcher }

export interface LogQuery {
  readonly matchers: readonly Matcher[]
  readonly stages: readonly Stage[]
}

export class LogqlError extends Error {
  public constructor(
    public readonly status: number,
    message: string
  ) {
    super(message)
  }
}

const EMPTY_COMPATIBLE =
  'queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will'

interface Token {
  readonly kind: 'punct' | 'ident' | 'string' | 'other' | 'end'
  readonly text: string
  readonly value: string
  readonly col: number
}

const PUNCTUATION = [
  '|=',
  '|~',
  '!=',
  '!~',
  '=~',
  '==',
  '>=',
  '<=',
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  ',',
  '|',
  '=',
  '>',
  '<'
]

const syntaxError = (token: Token, expecting?: string): LogqlError =>
  new LogqlError(
    400,
    `parse error at line 1, col ${token.col}: syntax error: unexpected ${token.kind === 'end' ? '$end' : token.text}${expecting === undefined ? '' : `, expecting ${expecting}`}`
  )

const GO_ESCAPES: Record<string, string> = {
  a: '\u0007',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"'
}

/** Go's `strconv.Unquote` of a double-quoted string body; undefined when Go refuses it. */
const goUnquote = (body: string): string | undefined => {
  let out = ''
  for (let i = 0; i < body.length; i++) {
    const char = body[i] as string
    if (char === '\n') {
      return undefined
    }
    if (char !== '\\') {
      out += char
      continue
    }
    const kind = body[i + 1] ?? ''
    const short = GO_ESCAPES[kind]
    if (short !== undefined) {
      out += short
      i++
      continue
    }
    const width = { x: 2, u: 4, U: 8 }[kind]
    if (width !== undefined) {
      const digits = body.slice(i + 2, i + 2 + width)
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`, 'u').test(digits)) {
        return undefined
      }
      const code = parseInt(digits, 16)
      if (kind !== 'x' && (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))) {
        return undefined
      }
      // A `\x` byte above 0x7f is a fragment of UTF-8 that no stored line can contain.
      out += kind === 'x' && code > 0x7f ? '\ufffd' : String.fromCodePoint(code)
      i += 1 + width
      continue
    }
    const octal = body.slice(i + 1, i + 4)
    if (/^[0-7]{3}$/u.test(octal) && parseInt(octal, 8) <= 0xff) {
      out += parseInt(octal, 8) > 0x7f ? '\ufffd' : String.fromCharCode(parseInt(octal, 8))
      i += 3
      continue
    }
    return undefined
  }
  return out
}

const tokenize = (query: string): Token[] => {
  const tokens: Token[] = []
  let at = 0
  while (at < query.length) {
    const char = query[at] as string
    const col = at + 1
    if (/\s/u.test(char)) {
      at++
      continue
    }
    if (char === '"' || char === '`') {
      let end = at + 1
      while (end < query.length && query[end] !== char) {
        end += char === '"' && query[end] === '\\' ? 2 : 1
      }
      if (end >= query.length) {
        throw new LogqlError(400, `parse error at line 1, col ${col}: literal not terminated`)
      }
      const body = query.slice(at + 1, end)
      const value = char === '`' ? body.replaceAll('\r', '') : goUnquote(body)
      if (value === undefined) {
        throw new LogqlError(400, `parse error at line 1, col ${col}: invalid syntax`)
      }
      tokens.push({ kind: 'string', text: query.slice(at, end + 1), value, col })
      at = end + 1
      continue
    }
    const ident = /[a-zA-Z_][a-zA-Z0-9_]*/uy
    ident.lastIndex = at
    if (ident.exec(query) !== null) {
      const text = query.slice(at, ident.lastIndex)
      tokens.push({ kind: 'ident', text, value: text, col })
      at = ident.lastIndex
      continue
    }
    const punct = PUNCTUATION.find((p) => query.startsWith(p, at))
    const text = punct ?? char
    tokens.push({ kind: punct === undefined ? 'other' : 'punct', text, value: text, col })
    at += text.length
  }
  tokens.push({ kind: 'end', text: '', value: '', col: query.length + 1 })
  return tokens
}

/** A RE2 pattern as a JavaScript RegExp; a leading `(?flags)` group becomes RegExp flags. */
const compileRegex = (pattern: string, anchored: boolean, col: number): RegExp => {
  const inline = /^\(\?([ims]+)\)/u.exec(pattern)
  const flags = new Set(inline?.[1] ?? '')
  const body = inline === null ? pattern : pattern.slice(inline[0].length)
  if (anchored) {
    flags.add('s')
  }
  try {
    return new RegExp(anchored ? `^(?:${body})$` : body, `u${[...flags].join('')}`)
  } catch (error) {
    throw new LogqlError(
      400,
      `parse error at line 1, col ${col}: invalid regex ${JSON.stringify(pattern)}: ${(error as Error).message}`
    )
  }
}

const makeMatcher = (name: string, op: MatchOp, value: string, col: number): Matcher => {
  if (op === '=' || op === '!=') {
    const equal = op === '='
    return { name, op, value, matches: (v) => (v === value) === equal }
  }
  const regex = compileRegex(value, true, col)
  const positive = op === '=~'
  return { name, op, value, matches: (v) => regex.test(v) === positive }
}

const makeLineFilter = (op: LineOp, value: string, col: number): Stage => {
  if (op === '|=' || op === '!=') {
    const positive = op === '|='
    return { kind: 'line', op, value, test: (line) => line.includes(value) === positive }
  }
  const regex = compileRegex(value, false, col)
  const positive = op === '|~'
  return { kind: 'line', op, value, test: (line) => regex.test(line) === positive }
}

const unsupported = (what: string): LogqlError =>
  new LogqlError(
    501,
    `loki stand-in (dev/loki.ts): ${what} is not supported; only stream selectors, line filters and string label filters are`
  )

/** Parses a log query of the supported subset; LogqlError with Loki's status otherwise. */
export const parseLogQuery = (query: string): LogQuery => {
  const tokens = tokenize(query)
  let at = 0
  const peek = (): Token => tokens[at] as Token
  const next = (): Token => tokens[at++] as Token
  const expect = (kind: Token['kind'], text?: string, expecting?: string): Token => {
    const token = next()
    if (token.kind !== kind || (text !== undefined && token.text !== text)) {
      throw syntaxError(token, expecting)
    }
    return token
  }
  const matcherOp = (token: Token): MatchOp | undefined =>
    token.kind === 'punct' && ['=', '!=', '=~', '!~'].includes(token.text) ? (token.text as MatchOp) : undefined
  const readMatcher = (): Matcher => {
    const name = expect('ident', undefined, 'IDENTIFIER')
    const opToken = next()
    const op = matcherOp(opToken)
    if (op === undefined) {
      if (['>', '<', '>=', '<=', '=='].includes(opToken.text)) {
        throw unsupported('a numeric label filter')
      }
      throw syntaxError(opToken, 'EQ or NEQ or RE or NRE')
    }
    const value = expect('string', undefined, 'STRING')
    return makeMatcher(name.value, op, value.value, value.col)
  }

  const first = peek()
  if (first.kind === 'ident') {
    throw unsupported(`a metric query (${first.text})`)
  }
  expect('punct', '{', 'OPEN_BRACE')
  const matchers: Matcher[] = [readMatcher()]
  while (peek().text === ',') {
    next()
    matchers.push(readMatcher())
  }
  expect('punct', '}', 'CLOSE_BRACE or COMMA')
  if (!matchers.some((matcher) => !matcher.matches(''))) {
    throw new LogqlError(400, `parse error : ${EMPTY_COMPATIBLE}`)
  }

  const stages: Stage[] = []
  while (peek().kind !== 'end') {
    const token = next()
    if (token.kind === 'punct' && ['|=', '!=', '|~', '!~'].includes(token.text)) {
      const value = expect('string', undefined, 'STRING')
      if (peek().kind === 'ident' && peek().text === 'or') {
        throw unsupported('an `or` line filter')
      }
      stages.push(makeLineFilter(token.text as LineOp, value.value, value.col))
    } else if (token.text === '|') {
      const name = peek()
      if (name.kind === 'ident' && matcherOp(tokens[at + 1] as Token) === undefined) {
        throw unsupported(`the \`${name.text}\` stage`)
      }
      stages.push({ kind: 'label', matcher: readMatcher() })
      const after = peek()
      if (after.kind === 'ident' && (after.text === 'and' || after.text === 'or')) {
        throw unsupported('a compound label filter')
      }
      if (after.text === ',') {
        throw unsupported('a compound label filter')
      }
    } else {
      throw syntaxError(token)
    }
  }
  return { matchers, stages }
}
