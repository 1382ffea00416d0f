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
