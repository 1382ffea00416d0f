import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites that start real servers compete for the same two cores; one file at a time keeps them honest.
    fileParallelism: false,
  },
})
