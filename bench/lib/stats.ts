/** Small statistics and formatting helpers for the benchmarks. */

/** The 99th percentile by the nearest-rank method (of 1,000 values: the 990th smallest). */
export const p99 = (values: readonly number[]): number => {
  if (values.length === 0) {
    return Number.NaN
  }
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(0.99 * sorted.length))) - 1]!
}

export const median = (values: readonly number[]): number => {
  if (values.length === 0) {
    return Number.NaN
  }
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Milliseconds with a precision that suits the magnitude. */
export const ms = (value: number): string =>
  !Number.isFinite(value)
    ? 'n/a'
    : value >= 100
      ? `${value.toFixed(0)} ms`
      : value >= 10
        ? `${value.toFixed(1)} ms`
        : `${value.toFixed(3)} ms`

export const ratio = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(3)}×` : 'n/a')

export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

export const count = (value: number): string =>
  value >= 1e6 ? `${(value / 1e6).toFixed(2)} M` : value >= 1e3 ? `${(value / 1e3).toFixed(1)} k` : value.toFixed(0)

/** Monotonic high-resolution clock in milliseconds, the one dev/integration-process.ts stamps with. */
export const now = (): number => performance.now()

export const sleep = (milliseconds: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, milliseconds))
