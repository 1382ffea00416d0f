/**
 * The entry point of a builder whose output is committed (rules/build.ts, dashboards/build.ts):
 * it writes the files, or with `--check` writes nothing and fails when a committed file is
 * missing or differs from what the builder makes now.
 */
import { readFileSync, writeFileSync } from 'node:fs'

export interface GeneratedFile {
  readonly path: string
  readonly text: string
}

/** `builder` and `command` name the file that builds and the command that writes, for the message. */
export const writeOrCheck = (
  argv: readonly string[],
  files: readonly GeneratedFile[],
  how: { readonly builder: string; readonly command: string }
): number => {
  if (!argv.includes('--check')) {
    for (const { path, text } of files) {
      writeFileSync(path, text)
      console.log(`wrote ${path}`)
    }
    return 0
  }
  let stale = 0
  for (const { path, text } of files) {
    let committed: string | undefined
    try {
      committed = readFileSync(path, 'utf8')
    } catch {
      committed = undefined
    }
    if (committed === text) {
      console.log(`${path} is up to date`)
    } else {
      console.error(
        `${path} ${committed === undefined ? 'is missing' : `differs from what ${how.builder} builds`}: run ${how.command} and commit it`
      )
      stale++
    }
  }
  return stale === 0 ? 0 : 1
}
