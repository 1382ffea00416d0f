import { describe, expect, test } from 'vitest'
import { INSTANCE_NAME_LENGTH } from './label-names'
import { SampleClock } from './sample-clock'

/** A clock whose time is set by the test. */
const clockAt = (start: number) => {
  let now = start
  const clock = new SampleClock(() => now)
  return { clock, set: (time: number) => (now = time) }
}

describe('SampleClock', () => {
  test('gives the time of the call when no earlier call took it', () => {
    const { clock, set } = clockAt(1_000)
    expect(clock.next().timestamp).toBe(1_000)
    set(1_005)
    expect(clock.next().timestamp).toBe(1_005)
  })

  test('gives calls in the same millisecond consecutive milliseconds', () => {
    const { clock } = clockAt(1_000)
    expect(Array.from({ length: 5 }, () => clock.next().timestamp)).toEqual([1_000, 1_001, 1_002, 1_003, 1_004])
  })

  test('never gives a millisecond twice when the system clock steps back', () => {
    const { clock, set } = clockAt(1_000)
    clock.next()
    clock.next()
    set(900)
    expect(clock.next().timestamp).toBe(1_002)
  })

  test('keeps one instance name while the clock runs at most a minute ahead', () => {
    const { clock } = clockAt(1_000)
    const first = clock.next()
    const stamps = Array.from({ length: 60_000 }, () => clock.next())
    expect(stamps.at(-1)).toEqual({ instance: first.instance, timestamp: 61_000 })
    expect(new Set(stamps.map((stamp) => stamp.instance)).size).toBe(1)
  })

  test('takes a new instance name and the real time once the lead passes a minute', () => {
    const { clock } = clockAt(1_000)
    const first = clock.next()
    for (let i = 0; i < 60_000; i++) {
      clock.next()
    }
    const next = clock.next()
    expect(next.timestamp).toBe(1_000)
    expect(next.instance).not.toBe(first.instance)
    expect(clock.next()).toEqual({ instance: next.instance, timestamp: 1_001 })
  })

  test('names instances with 13 base-36 characters, differently in each process', () => {
    const names = new Set(Array.from({ length: 1_000 }, () => new SampleClock().next().instance))
    expect(names.size).toBe(1_000)
    for (const name of names) {
      expect(name).toMatch(new RegExp(`^[0-9a-z]{${INSTANCE_NAME_LENGTH}}$`, 'u'))
    }
  })
})
