/**
 * A card's number field: Studio hands over a number, or text when the field holds a template.
 */

// Decimal notation only: Number() would also take hexadecimal, binary and octal text.
const DECIMAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/u

/**
 * The number a field holds: undefined when it is missing or blank, NaN when it is neither a
 * number nor decimal text. Infinities pass through for the caller to refuse.
 */
export const numberField = (value: number | string | undefined): number | undefined => {
  if (typeof value === 'number') {
    return value
  }
  const text = value?.trim() ?? ''
  if (text === '') {
    return undefined
  }
  return DECIMAL.test(text) ? Number(text) : Number.NaN
}

/** Digits after the decimal point in the shortest text of `n`: 0.000185 has 6, 1e-7 has 7. */
const decimalPlaces = (n: number): number => {
  const [mantissa = '', exponent = '0'] = String(n).split('e')
  const fraction = mantissa.split('.')[1]?.length ?? 0
  return Math.max(0, fraction - Number(exponent))
}

/**
 * The sum of decimal amounts as the decimal it is. Binary floating point adds 0.000185 and
 * 0.00034 to 0.0005250000000000001; the exact sum has no more decimal places than its most
 * precise part, so rounding to those places gives back 0.000525.
 */
export const decimalSum = (values: readonly number[]): number => {
  const places = Math.min(100, Math.max(0, ...values.map(decimalPlaces)))
  return Number(values.reduce((sum, value) => sum + value, 0).toFixed(places))
}
