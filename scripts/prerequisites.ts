/**
 * The programs the test suites, the demo and the exporter run, the Debian package of each, and
 * the one way they are checked and installed: when one is missing, root installs it with apt-get;
 * anyone else is told the exact `apt-get install` line to run.
 *
 * Used by the test setup (test/setup/servers.ts, so `npm test` and `bash .ci/run` install what
 * they need) and by `npm run demo`.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants, existsSync, rmSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'

export interface Prerequisite {
  /** The program's name on PATH. */
  readonly command: string
  readonly debianPackage: string
  /** Who needs it: shown when it is missing. */
  readonly why: string
  /** A variable that names the binary instead of PATH (dev/servers.ts reads the same one). */
  readonly variable?: string
}

export const PREREQUISITES = [
  {
    command: 'victoria-metrics',
    debianPackage: 'victoria-metrics',
    why: 'the local stand-in for Grafana Cloud',
    variable: 'VICTORIA_METRICS_BIN'
  },
  { command: 'vmalert', debianPackage: 'victoria-metrics', why: 'evaluates the alert rules against VictoriaMetrics' },
  {
    command: 'influxd',
    debianPackage: 'influxdb',
    why: 'InfluxDB 1.6, the reference parser of the line protocol',
    variable: 'INFLUXD_BIN'
  },
  {
    command: 'prometheus',
    debianPackage: 'prometheus',
    why: 'serves what the exporter wrote, for the round trip',
    variable: 'PROMETHEUS_BIN'
  },
  { command: 'promtool', debianPackage: 'prometheus', why: 'checks the rules and makes TSDB blocks' },
  {
    command: 'prometheus-alertmanager',
    debianPackage: 'prometheus-alertmanager',
    why: 'delivers the alerts vmalert fires'
  },
  { command: 'shellcheck', debianPackage: 'shellcheck', why: 'lints scripts/export-metrics.sh' },
  { command: 'jq', debianPackage: 'jq', why: 'used by scripts/export-metrics.sh' },
  { command: 'curl', debianPackage: 'curl', why: 'used by scripts/export-metrics.sh' },
  {
    command: 'original-awk',
    debianPackage: 'original-awk',
    why: 'the BWK awk that macOS ships: the exporter is tested with it'
  },
  { command: 'time', debianPackage: 'time', why: "GNU time: the exporter's peak memory" }
] as const satisfies readonly Prerequisite[]

export type Command = (typeof PREREQUISITES)[number]['command']

/** The prerequisites named, in the order of PREREQUISITES. */
export const prerequisites = (...commands: Command[]): Prerequisite[] =>
  PREREQUISITES.filter((p) => commands.includes(p.command))

export class PrerequisiteError extends Error {}

const isExecutable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

export interface Host {
  readonly env: NodeJS.ProcessEnv
  readonly isRoot: boolean
}

export const thisHost = (): Host => ({
  env: process.env,
  isRoot: typeof process.getuid === 'function' && process.getuid() === 0
})

const onPath = (name: string, env: NodeJS.ProcessEnv): string | undefined =>
  (env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, name))
    .find(isExecutable)

/** Where `p` is: the file its variable names, else the first one on PATH; undefined when missing. */
export const locate = (p: Prerequisite, env: NodeJS.ProcessEnv = process.env): string | undefined => {
  const configured = p.variable === undefined ? undefined : env[p.variable]
  if (configured) return isExecutable(configured) ? configured : undefined
  return onPath(p.command, env)
}

export type Decision =
  | { readonly action: 'none' }
  | { readonly action: 'install'; readonly packages: string[]; readonly missing: string }
  | { readonly action: 'stop'; readonly message: string }

/**
 * What to do about the prerequisites of `rerun` (the command the user runs again afterwards):
 * nothing, install the missing packages (root with apt-get), or stop with what to run.
 */
export const decide = (needed: readonly Prerequisite[], host: Host, rerun: string): Decision => {
  const missing = needed.filter((p) => locate(p, host.env) === undefined)
  if (missing.length === 0) return { action: 'none' }
  const misnamed = missing.filter((p) => p.variable !== undefined && host.env[p.variable])
  if (misnamed.length > 0) {
    const names = misnamed.map(
      (p) => `${p.variable} is set to ${host.env[p.variable!]}, which is not an executable file.`
    )
    return {
      action: 'stop',
      message: `${names.join('\n')}\nPoint it at the ${misnamed[0]!.command} binary, or unset it.`
    }
  }
  const packages = [...new Set(missing.map((p) => p.debianPackage))]
  const list = missing.map((p) => `   - ${p.command} (Debian package ${p.debianPackage}): ${p.why}`).join('\n')
  const them = packages.length === 1 ? 'it' : 'them'
  if (host.isRoot && onPath('apt-get', host.env) !== undefined) {
    return { action: 'install', packages, missing: `Missing:\n${list}` }
  }
  return {
    action: 'stop',
    message:
      `Missing:\n${list}\n\nInstall ${them}, then run \`${rerun}\` again:\n` +
      `   sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}\n` +
      (host.isRoot
        ? "(apt-get was not found: install the packages with your system's package manager.)"
        : `(Run as root, \`${rerun}\` installs ${them} itself.)`)
  }
}

const POLICY_RC_D = '/usr/sbin/policy-rc.d'
const APT_TIMEOUT_MS = 600_000
const run = promisify(execFile)

const tail = (text: string, lines = 15): string =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .map((l) => `   ${l}`)
    .join('\n')

const apt = async (args: string[], env: NodeJS.ProcessEnv): Promise<void> => {
  try {
    await run('apt-get', args, { env, timeout: APT_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 })
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string; message: string }
    throw new PrerequisiteError(
      `apt-get ${args.join(' ')} failed (${typeof e.code === 'number' ? `exit ${e.code}` : e.message}):\n` +
        tail(`${e.stderr ?? ''}\n${e.stdout ?? ''}`)
    )
  }
}

/**
 * apt-get update and install `packages`. The packages' maintainer scripts would start system-wide
 * daemons on fixed ports; the tests and the demo start their own on loopback, so a policy-rc.d
 * that refuses every start is in place during the install (removed after it, also on exit).
 */
const install = async (packages: string[], log: (line: string) => void): Promise<void> => {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const removePolicy = () => rmSync(POLICY_RC_D, { force: true })
  const addPolicy = !existsSync(POLICY_RC_D)
  if (addPolicy) {
    writeFileSync(POLICY_RC_D, '#!/bin/sh\nexit 101\n', { mode: 0o755 })
    process.once('exit', removePolicy)
  }
  try {
    log(`Running as root, so installing: apt-get update && apt-get install -y ${packages.join(' ')}`)
    await apt(['update', '-qq'], env)
    await apt(['install', '-y', '-qq', '--no-install-recommends', ...packages], env)
  } finally {
    if (addPolicy) {
      process.removeListener('exit', removePolicy)
      removePolicy()
    }
  }
}

/** Makes sure every one of `needed` is there, installing when root; throws PrerequisiteError otherwise. */
export const ensurePrerequisites = async (
  needed: readonly Prerequisite[],
  rerun: string,
  log: (line: string) => void
): Promise<void> => {
  const decision = decide(needed, thisHost(), rerun)
  if (decision.action === 'none') return
  if (decision.action === 'stop') throw new PrerequisiteError(decision.message)
  log(decision.missing)
  await install(decision.packages, log)
  const still = needed.filter((p) => locate(p) === undefined)
  if (still.length > 0) {
    throw new PrerequisiteError(`Still missing after the install: ${still.map((p) => p.command).join(', ')}.`)
  }
  log(`Installed ${decision.packages.join(', ')}.`)
}
