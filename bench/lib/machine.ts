/** Describes the machine a benchmark ran on, for RESULTS.md. */
import { readFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'

const readOr = (path: string, fallback: string): string => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return fallback
  }
}

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memory: string
  readonly node: string
  readonly os: string
}

export const describeMachine = (): Machine => {
  const cpuinfo = readOr('/proc/cpuinfo', '')
  const model = /^model name\s*:\s*(.+)$/mu.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown'
  const osRelease = readOr('/etc/os-release', '')
  const pretty = /^PRETTY_NAME="?([^"\n]+)"?$/mu.exec(osRelease)?.[1] ?? process.platform
  return {
    cpu: model,
    cores: cpus().length,
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    os: `${pretty}, Linux ${release()}`
  }
}
