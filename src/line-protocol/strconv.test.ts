import { describe, expect, test } from 'vitest'
import { parseBoolOk, parseFloatOk, parseIntOk, parseUintOk } from './strconv'

describe("Go's strconv, as InfluxDB calls it on field values", () => {
  test.each([
    ['1', true],
    ['-1.5', true],
    ['.5', true],
    ['5.', true],
    ['+1', true],
    ['1e5', true],
    ['1.e5', true],
    ['1E-5', true],
    ['1_000.000_1', true],
    ['1e1_0', true],
    ['00012', true],
    ['1e308', true],
    ['1.7976931348623157e308', true],
    ['1e-400', true],
    ['inf', true],
    ['-Inf', true],
    ['+INFINITY', true],
    ['nan', true],
    ['NaN', true],
    ['0x1p3', true],
    ['0X1.8P+1', true],
    ['0x_1p0', true],
    ['0x.8p1', true],
    ['0x1.fffffffffffffp1023', true],
    ['1e309', false],
    ['-1e400', false],
    ['1.7976931348623159e308', false],
    ['0x1p1024', false],
    ['0x1.fffffffffffff8p1023', false],
    ['', false],
    ['.', false],
    ['-', false],
    ['e5', false],
    ['.e5', false],
    ['1e', false],
    ['1e+', false],
    ['_1', false],
    ['1_', false],
    ['1__0', false],
    ['1_.5', false],
    ['1._5', false],
    ['0x1', false],
    ['0x1_p1', false],
    ['0x_.8p1', false],
    ['+nan', false],
    ['infin', false],
    ['1"', false],
    ['1 ', false],
    ['0o17', false]
  ])('ParseFloat(%j) succeeds: %s', (text, ok) => {
    expect(parseFloatOk(text)).toBe(ok)
  })

  test.each([
    ['0', true],
    ['+1', true],
    ['-9223372036854775808', true],
    ['9223372036854775807', true],
    ['9223372036854775808', false],
    ['-9223372036854775809', false],
    ['', false],
    ['1_0', false],
    ['1.0', false],
    ['0x10', false]
  ])('ParseInt(%j, 10, 64) succeeds: %s', (text, ok) => {
    expect(parseIntOk(text)).toBe(ok)
  })

  test.each([
    ['0', true],
    ['18446744073709551615', true],
    ['18446744073709551616', false],
    ['+1', false],
    ['-0', false],
    ['', false]
  ])('ParseUint(%j, 10, 64) succeeds: %s', (text, ok) => {
    expect(parseUintOk(text)).toBe(ok)
  })

  test.each([
    ['1', true],
    ['0', true],
    ['t', true],
    ['True', true],
    ['FALSE', true],
    ['tRUE', false],
    ['yes', false],
    ['', false]
  ])('ParseBool(%j) succeeds: %s', (text, ok) => {
    expect(parseBoolOk(text)).toBe(ok)
  })
})
