import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decide, locate, PREREQUISITES, prerequisites } from './prerequisites'

let bin: string

/** A PATH folder holding an executable for each of `commands` (and nothing else). */
const pathWith = async (...commands: string[]): Promise<string> => {
  const dir = await mkdtemp(join(bin, 'path-'))
  for (const command of commands) {
    await writeFile(join(dir, command), '#!/bin/sh\n')
    await chmod(join(dir, command), 0o755)
  }
  return dir
}

beforeAll(async () => {
  bin = await mkdtemp(join(tmpdir(), 'prerequisites-'))
})
afterAll(() => rm(bin, { recursive: true, force: true }))

const everything = PREREQUISITES.map((p) => p.command)

describe('decide', () => {
  test('nothing to do when every program is on PATH', async () => {
    const env = { PATH: await pathWith(...everything) }
    expect(decide(PREREQUISITES, { env, isRoot: false }, 'npm test')).toEqual({ action: 'none' })
  })

  test('a user who is not root is told the exact apt-get line, each package once', async () => {
    const env = { PATH: await pathWith(...everything.filter((c) => c !== 'vmalert' && c !== 'victoria-metrics')) }
    const decision = decide(PREREQUISITES, { env, isRoot: false }, 'npm test')
    expect(decision.action).toBe('stop')
    const message = decision.action === 'stop' ? decision.message : ''
    expect(message).toContain('   sudo apt-get update && sudo apt-get install -y victoria-metrics\n')
    expect(message).toContain('- vmalert (Debian package victoria-metrics)')
    expect(message).toContain('Run as root, `npm test` installs it itself.')
  })

  test('root with apt-get installs the missing packages', async () => {
    const env = { PATH: await pathWith(...everything.filter((c) => c !== 'original-awk' && c !== 'time'), 'apt-get') }
    const decision = decide(PREREQUISITES, { env, isRoot: true }, 'npm test')
    expect(decision).toMatchObject({ action: 'install', packages: ['original-awk', 'time'] })
  })

  test('root without apt-get is told what to install', async () => {
    const env = { PATH: await pathWith(...everything.filter((c) => c !== 'jq')) }
    const decision = decide(PREREQUISITES, { env, isRoot: true }, 'npm run demo')
    expect(decision.action).toBe('stop')
    expect(decision.action === 'stop' && decision.message).toContain(
      'sudo apt-get install -y jq\n(apt-get was not found'
    )
  })

  test('a variable naming a file that is not executable stops, whoever runs it', async () => {
    const env = { PATH: await pathWith(...everything, 'apt-get'), VICTORIA_METRICS_BIN: join(bin, 'nowhere') }
    const decision = decide(prerequisites('victoria-metrics'), { env, isRoot: true }, 'npm run demo')
    expect(decision).toEqual({
      action: 'stop',
      message: `VICTORIA_METRICS_BIN is set to ${join(bin, 'nowhere')}, which is not an executable file.\nPoint it at the victoria-metrics binary, or unset it.`
    })
  })
})

test('locate prefers the file the variable names to PATH', async () => {
  const onPath = await pathWith('influxd')
  const named = join(await pathWith('my-influxd'), 'my-influxd')
  const influxd = prerequisites('influxd')[0]!
  expect(locate(influxd, { PATH: onPath })).toBe(join(onPath, 'influxd'))
  expect(locate(influxd, { PATH: onPath, INFLUXD_BIN: named })).toBe(named)
})
