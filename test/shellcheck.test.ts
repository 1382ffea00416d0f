import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const SCRIPTS = resolve(__dirname, '..', 'scripts')
const files = readdirSync(SCRIPTS)
  .filter((f) => f.endsWith('.sh'))
  .map((f) => join(SCRIPTS, f))

async function hasShellcheck(): Promise<boolean> {
  try {
    await run('shellcheck', ['--version'])
    return true
  } catch {
    return false
  }
}

describe('shellcheck', () => {
  it('every scripts/*.sh is shellcheck-clean', async () => {
    if (!(await hasShellcheck())) {
      // Locally a missing shellcheck is a warning; in CI it is a failure (never a silent skip).
      if (process.env.CI) throw new Error('shellcheck is not installed (apt-get install shellcheck)')
      console.warn('shellcheck not installed: scripts/*.sh not checked')
      return
    }
    expect(files.length).toBeGreaterThan(0)
    const findings: string[] = []
    for (const f of files) {
      try {
        await run('shellcheck', ['--format=gcc', f])
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string }
        findings.push(e.stdout || e.stderr || e.message)
      }
    }
    expect(findings.join('\n')).toBe('')
  })
})
