/**
 * Go's strconv parsers, as InfluxDB's line-protocol parser calls them on field values and
 * numbers: each says whether Go accepts the text, in syntax and in range. InfluxDB takes the
 * value itself from Go; only its verdict matters here.
 */

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const UINT64_MAX = 2n ** 64n - 1n
const MAX_BINARY_EXPONENT = 1023
const MANTISSA_BITS = 53

// Go allows `_` between two digits, or between a base prefix and a digit.
const DIGITS = String.raw`\d(?:_?\d)*`
const HEX_DIGITS = String.raw`[0-9a-fA-F](?:_?[0-9a-fA-F])*`
const DECIMAL_FLOAT = new RegExp(
  String.raw`^[+-]?(?:${DIGITS}(?:\.(?:${DIGITS})?)?|\.${DIGITS})(?:[eE][+-]?${DIGITS})?$`,
  'u'
)
// A hexadecimal float needs its `p` exponent (a power of two).
const HEX_FLOAT = new RegExp(
  String.raw`^[+-]?0[xX](?:_?(${HEX_DIGITS})(?:\.(${HEX_DIGITS})?)?|\.(${HEX_DIGITS}))[pP]([+-]?${DIGITS})$`,
  'u'
)
const SPECIAL_FLOAT = /^(?:[+-]?inf(?:inity)?|nan)$/iu
const BOOLEANS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'])

/** Whether a hexadecimal mantissa times 2^exponent, rounded to a double, stays finite. */
const hexFloatInRange = (mantissa: string, exponent: number): boolean => {
  const m = BigInt(`0x${mantissa}`)
  if (m === 0n) {
    return true
  }
  const bits = m.toString(2).length
  const shift = Math.max(0, bits - MANTISSA_BITS)
  const top = m >> BigInt(shift)
  const rest = m - (top << BigInt(shift))
  const half = shift > 0 ? 1n << BigInt(shift - 1) : 0n
  const roundsUp = shift > 0 && (rest > half || (rest === half && (top & 1n) === 1n))
  const carries = roundsUp && top + 1n === 1n << BigInt(MANTISSA_BITS)
  return (carries ? bits : bits - 1) + exponent <= MAX_BINARY_EXPONENT
}

/** `strconv.ParseFloat(s, 64)` succeeds: decimal or hexadecimal syntax, `inf`, `infinity`, `nan`, no overflow. */
export const parseFloatOk = (s: string): boolean => {
  if (SPECIAL_FLOAT.test(s)) {
    return true
  }
  if (DECIMAL_FLOAT.test(s)) {
    return Number.isFinite(Number(s.replaceAll('_', '')))
  }
  const hex = HEX_FLOAT.exec(s)
  if (hex === null) {
    return false
  }
  const [, whole = '', fraction = '', onlyFraction = '', exponent = ''] = hex
  const digits = (whole + fraction + onlyFraction).replaceAll('_', '')
  const fractionDigits = (fraction + onlyFraction).replaceAll('_', '').length
  return hexFloatInRange(digits, Number(exponent.replaceAll('_', '')) - 4 * fractionDigits)
}

const inRange = (n: bigint, min: bigint, max: bigint): boolean => n >= min && n <= max

/** `strconv.ParseInt(s, 10, 64)` succeeds. */
export const parseIntOk = (s: string): boolean => /^[+-]?\d+$/u.test(s) && inRange(BigInt(s), INT64_MIN, INT64_MAX)

/** `strconv.ParseUint(s, 10, 64)` succeeds (no sign, not even `+`). */
export const parseUintOk = (s: string): boolean => /^\d+$/u.test(s) && inRange(BigInt(s), 0n, UINT64_MAX)

/** `strconv.ParseBool(s)` succeeds. */
export const parseBoolOk = (s: string): boolean => BOOLEANS.has(s)
