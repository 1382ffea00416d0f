import { describe, expect, test } from 'vitest'
import { MimirSamples } from './mimir-samples'

const ms = new URLSearchParams({ precision: 'ms' })

describe("Mimir's rule for samples that share a millisecond", () => {
  test('takes samples of one series at different milliseconds', () => {
    const mimir = new MimirSamples()
    expect(mimir.admit('m,a=1 metric=1 1000\nm,a=1 metric=1 1001', ms)).toBeUndefined()
    expect(mimir.counts()).toEqual({ accepted: 2, merged: 0, refusedRequests: 0 })
  })

  test('merges a second sample with the same value, across requests', () => {
    const mimir = new MimirSamples()
    mimir.admit('m,a=1 metric=1 1000', ms)
    expect(mimir.admit('m,a=1 metric=1 1000', ms)).toBeUndefined()
    expect(mimir.counts()).toEqual({ accepted: 1, merged: 1, refusedRequests: 0 })
  })

  test('refuses a whole request when a sample reuses a millisecond with another value', () => {
    const mimir = new MimirSamples()
    mimir.admit('m,a=1 metric=1 1000', ms)
    expect(mimir.admit('other metric=5 1000\nm,a=1 metric=2 1000', ms)).toMatch(
      /err-mimir-sample-duplicate-timestamp: the series m_metric\{a="1"\}/u
    )
    expect(mimir.counts()).toEqual({ accepted: 1, merged: 0, refusedRequests: 1 })
    expect(mimir.admit('other metric=5 1000', ms)).toBeUndefined()
  })

  test('names series as Grafana does: tag order, escapes and sanitising do not make a new series', () => {
    const mimir = new MimirSamples()
    mimir.admit('a-b,y=2,x=1 v=1 1000', ms)
    expect(mimir.admit('a_b,x=1,y=2 v=2 1000', ms)).toMatch(/series a_b_v\{x="1",y="2"\}/u)
    expect(mimir.admit('a_b,x=1,y=2\\ z v=2 1000', ms)).toBeUndefined()
  })

  test('reads the fields of a line as separate series, booleans and integers as numbers', () => {
    const mimir = new MimirSamples()
    expect(mimir.admit('m ok=true,n=3i,value=2 1000', ms)).toBeUndefined()
    expect(mimir.admit('m ok=t,n=3,value=2 1000', ms)).toBeUndefined()
    expect(mimir.counts()).toEqual({ accepted: 3, merged: 3, refusedRequests: 0 })
  })
})
