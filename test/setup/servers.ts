/**
 * Global setup of the suites under test/: the Debian servers and tools they run must be there
 * before the first file starts. Run as root it installs the missing ones; otherwise it stops at
 * once with the `apt-get install` line to run.
 */
import { ensurePrerequisites, PrerequisiteError, PREREQUISITES } from '../../scripts/prerequisites'

export default async function setup(): Promise<void> {
  try {
    await ensurePrerequisites(PREREQUISITES, 'npm test', (line) => process.stderr.write(`${line}\n`))
  } catch (error) {
    if (!(error instanceof PrerequisiteError)) throw error
    // Thrown, it would be printed under vitest's "No test files found" and a stack trace of vitest's own.
    process.stderr.write(`\n${error.message}\n`)
    process.exit(1)
  }
}
