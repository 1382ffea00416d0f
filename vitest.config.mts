import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites that start real servers compete for the same two cores; one file at a time keeps them honest.
    fileParallelism: false,
    projects: [
      // `npm run test:unit`: the tests next to the code; no Debian server, no build.
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'servers', include: ['test/**/*.test.ts'], globalSetup: ['test/setup/servers.ts'] }
      }
    ]
  }
})
