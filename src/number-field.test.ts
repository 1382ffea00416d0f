import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { decimalSum, numberField } from './number-field'

describe('numberField', () => {
  test.each([
    [12.5, 12.5],
    [' 250.5 ', 250.5],
    ['1e-3', 0.001],
    ['', undefined],
    [undefined, undefined]
  ])('%j is %j', (given, expected) => {
    expect(numberField(given)).toBe(expected)
  })

  test.each(['0x10', '0b1', 'ten', '1,5'])('%j is not a number', (given) => {
    expect(numberField(given)).toBeNaN()
  })
})

/** `units / 10^places` as exact decimal text. */
const decimalText = (units: bigint, places: number): string => {
  const digits = units.toString().padStart(places + 1, '0')
  return places === 0 ? digits : `${digits.slice(0, -places)}.${digits.slice(-places)}`
}

describe('decimalSum', () => {
  test('adds the costs of an LLM call as the decimal they make', () => {
    expect(0.000185 + 0.00034).not.toBe(0.000525)
    expect(decimalSum([0.000185, 0.00034])).toBe(0.000525)
    expect(String(decimalSum([0.1, 0.2]))).toBe('0.3')
    expect(decimalSum([1e-7, 2e-7])).toBe(3e-7)
    expect(decimalSum([5])).toBe(5)
  })

  test('gives the exact decimal sum whenever it fits in a double (15 significant digits)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 9n }), fc.integer({ min: 0, max: 12 })), {
          minLength: 1,
          maxLength: 4
        }),
        (parts) => {
          const places = Math.max(...parts.map(([, p]) => p))
          const exact = parts.reduce((sum, [units, p]) => sum + units * 10n ** BigInt(places - p), 0n)
          fc.pre(exact.toString().length <= 15)
          const values = parts.map(([units, p]) => Number(decimalText(units, p)))
          expect(decimalSum(values)).toBe(Number(decimalText(exact, places)))
        }
      ),
      { seed: 20261206, numRuns: 2_000 }
    )
  })
})
