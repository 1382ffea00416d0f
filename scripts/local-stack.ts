/**
 * Starts the local stand-ins for Grafana Cloud by hand, for local work:
 *
 *   npm run stack                     # VictoriaMetrics (auth on, dedup on)
 *   npm run stack -- --influxdb       # + InfluxDB 1.6 (the line-protocol oracle)
 *   npm run stack -- --prometheus     # + an empty Prometheus 2.42
 *   npm run stack -- --no-auth        # VictoriaMetrics without Basic auth
 *
 * Prints the URLs and the throwaway credentials of the local VictoriaMetrics (random per run,
 * never a Grafana key), then runs until Ctrl-C / SIGTERM and stops everything it started.
 */
import { startInfluxDB, startPrometheus, startVictoriaMetrics, type RunningServer } from '../dev/servers'
import { ensurePrerequisites, prerequisites, type Command } from './prerequisites'

const HELP = `Usage: npm run stack -- [--influxdb] [--prometheus] [--no-auth] [--no-dedup]

Starts real local servers on 127.0.0.1 (free ports, temp data folders), prints how to reach
them, and stops them all on Ctrl-C or SIGTERM.

  --influxdb     also start InfluxDB 1.6 (auth off; POST /write?db=NAME&precision=ms)
  --prometheus   also start an empty Prometheus 2.42 (no scrape targets)
  --no-auth      VictoriaMetrics without Basic auth
  --no-dedup     VictoriaMetrics without -dedup.minScrapeInterval=1ms
  -h, --help     this text
`

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const known = new Set(['--influxdb', '--prometheus', '--no-auth', '--no-dedup', '-h', '--help'])
  for (const a of args) {
    if (!known.has(a)) {
      process.stderr.write(`unknown option: ${a}\n\n${HELP}`)
      process.exit(2)
    }
  }
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(HELP)
    return
  }

  const running: RunningServer[] = []
  let stopping = false
  const stopAll = async (code: number) => {
    if (stopping) return
    stopping = true
    process.stderr.write('\nstopping…\n')
    for (const s of running.reverse()) await s.stop().catch((e) => process.stderr.write(`${String(e)}\n`))
    process.exit(code)
  }
  process.on('SIGINT', () => void stopAll(0))
  process.on('SIGTERM', () => void stopAll(0))

  const servers: Command[] = [
    'victoria-metrics',
    ...(args.includes('--influxdb') ? (['influxd'] as const) : []),
    ...(args.includes('--prometheus') ? (['prometheus'] as const) : [])
  ]
  try {
    const rerun = `npm run stack${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`
    await ensurePrerequisites(prerequisites(...servers), rerun, (line) => process.stderr.write(`${line}\n`))
    const vm = await startVictoriaMetrics({ auth: !args.includes('--no-auth'), dedup: !args.includes('--no-dedup') })
    running.push(vm)
    const lines = [
      `VictoriaMetrics  ${vm.url}   (pid ${vm.pid}, data ${vm.dataDir})`,
      `  influx write   ${vm.url}/influx/write   <- the integration's grafanaUrl for local runs`,
      `  Prometheus API ${vm.url}/api/v1/query   (also /prometheus/api/v1/…)`,
      `  export         ${vm.url}/api/v1/export`
    ]
    if (vm.username) {
      lines.push(
        `  username       ${vm.username}   <- grafanaUserId / GRAFANA_USER_ID`,
        `  password       ${vm.password}   <- apiKey / GRAFANA_READ_TOKEN (local throwaway, new each run)`
      )
    } else {
      lines.push('  auth           off')
    }
    lines.push(`  flush          curl ${vm.username ? `-u ${vm.username}:… ` : ''}${vm.url}/internal/force_flush`)
    if (args.includes('--influxdb')) {
      const influx = await startInfluxDB()
      running.push(influx)
      lines.push(
        `InfluxDB 1.6     ${influx.url}   (pid ${influx.pid}; create a db: curl -XPOST ${influx.url}/query --data-urlencode 'q=CREATE DATABASE t')`
      )
    }
    if (args.includes('--prometheus')) {
      const prom = await startPrometheus()
      running.push(prom)
      lines.push(`Prometheus 2.42  ${prom.url}   (pid ${prom.pid}, tsdb in ${prom.dataDir})`)
    }
    lines.push('', 'Ctrl-C stops everything and removes the data folders.')
    process.stdout.write(`${lines.join('\n')}\n`)
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    await stopAll(1)
    return
  }
  // keep the event loop alive until a signal arrives
  setInterval(() => undefined, 1 << 30)
}

void main()
