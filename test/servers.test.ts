import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { startInfluxDB, startPrometheus, startVictoriaMetrics, type RunningServer } from '../dev/servers'

const run = promisify(execFile)

const started: RunningServer[] = []
afterAll(async () => {
  for (const s of started) await s.stop()
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function exportVm(
  url: string,
  authorization: string | undefined,
  match: string
): Promise<Array<{ metric: Record<string, string>; values: number[]; timestamps: number[] }>> {
  const res = await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': match })}`, {
    headers: authorization ? { authorization } : {}
  })
  expect(res.status).toBe(200)
  const text = await res.text()
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l))
}

describe('VictoriaMetrics', () => {
  it('starts on 127.0.0.1 with auth, keeps the password off the command line, writes, reads, stops', async () => {
    const vm = await startVictoriaMetrics()
    started.push(vm)
    expect(vm.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(vm.password.length).toBeGreaterThanOrEqual(16)

    const cmdline = readFileSync(`/proc/${vm.pid}/cmdline`, 'utf8')
    expect(cmdline).toContain(`-httpListenAddr=127.0.0.1:${vm.port}`)
    expect(cmdline).not.toContain(vm.password)
    expect(cmdline).not.toContain(vm.username)

    // credentials are really checked
    const noAuth = await fetch(`${vm.url}/api/v1/export?match[]={__name__!=""}`)
    expect(noAuth.status).toBe(401)
    await noAuth.text()
    const wrong = await fetch(`${vm.url}/influx/write`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${vm.username}:nope`).toString('base64')}` },
      body: 'm,a=b f=1'
    })
    expect(wrong.status).toBe(401)
    await wrong.text()

    const ts = Date.UTC(2026, 0, 2, 3, 4, 5, 678)
    const w = await fetch(`${vm.url}/influx/write?precision=ms`, {
      method: 'POST',
      headers: { authorization: vm.authorization! },
      body: `srv_test,channel=web f=42 ${ts}\n`
    })
    expect(w.status).toBe(204)
    await vm.flush()
    const series = await exportVm(vm.url, vm.authorization, 'srv_test_f')
    expect(series).toEqual([{ metric: { __name__: 'srv_test_f', channel: 'web' }, values: [42], timestamps: [ts] }])

    const pid = vm.pid
    const dir = vm.dataDir
    await vm.stop()
    expect(alive(pid)).toBe(false)
    expect(existsSync(dir)).toBe(false)
    await vm.stop() // idempotent
  })

  it('dedup (default on): the same sample written twice is stored once; without dedup it is stored twice', async () => {
    const ts = Date.UTC(2026, 0, 2, 3, 4, 5, 678)
    const line = `dup_test,channel=web f=1 ${ts}\n`
    const counts: Record<string, { exported: number; queried: number }> = {}
    for (const dedup of [true, false]) {
      const vm = await startVictoriaMetrics({ dedup, auth: false })
      started.push(vm)
      for (let i = 0; i < 2; i++) {
        const r = await fetch(`${vm.url}/influx/write?precision=ms`, { method: 'POST', body: line })
        expect(r.status).toBe(204)
        await r.text()
      }
      await vm.flush()
      const exported = (await exportVm(vm.url, undefined, 'dup_test_f')).reduce((n, s) => n + s.timestamps.length, 0)
      const q = await fetch(
        `${vm.url}/api/v1/query?${new URLSearchParams({ query: 'dup_test_f[1h]', time: String((ts + 1000) / 1000) })}`
      )
      const body = (await q.json()) as { data: { result: Array<{ values: unknown[] }> } }
      const queried = body.data.result.reduce((n, s) => n + s.values.length, 0)
      counts[dedup ? 'dedup' : 'plain'] = { exported, queried }
      await vm.stop()
    }
    expect(counts.dedup).toEqual({ exported: 1, queried: 1 })
    // Documents VM's behaviour without the flag (the reason the flag is on by default).
    expect(counts.plain!.exported).toBe(2)
  })

  it('the password does not show in its /flags page nor in its log', async () => {
    const vm = await startVictoriaMetrics({ extraArgs: ['-loggerLevel=INFO'] })
    started.push(vm)
    const flags = await fetch(`${vm.url}/flags`, { headers: { authorization: vm.authorization! } })
    const text = await flags.text()
    expect(text).toContain('httpAuth.password')
    expect(text).not.toContain(vm.password)
    expect(vm.logTail(1000)).toContain('httpAuth')
    expect(vm.logTail(1000)).not.toContain(vm.password)
    await vm.stop()
  })
})

describe('InfluxDB 1.6', () => {
  it('starts, accepts a line, refuses a bad one, stops', async () => {
    const influx = await startInfluxDB()
    started.push(influx)
    expect(influx.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const create = await fetch(`${influx.url}/query`, {
      method: 'POST',
      body: new URLSearchParams({ q: 'CREATE DATABASE t' })
    })
    expect(create.status).toBe(200)
    await create.text()
    const ok = await fetch(`${influx.url}/write?db=t&precision=ms`, { method: 'POST', body: 'm,a=b f=1 1700000000000' })
    expect(ok.status).toBe(204)
    await ok.text()
    const bad = await fetch(`${influx.url}/write?db=t&precision=ms`, { method: 'POST', body: 'm,t= f=1' })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toMatch(/unable to parse/)
    const q = await fetch(`${influx.url}/query?${new URLSearchParams({ db: 't', q: 'SELECT * FROM m', epoch: 'ms' })}`)
    const body = (await q.json()) as { results: Array<{ series: Array<{ values: unknown[][] }> }> }
    expect(body.results[0]!.series[0]!.values).toEqual([[1700000000000, 'b', 1]])

    // no listeners other than the two loopback ones given in the config
    const listening = await run('ss', ['-Htlnp'])
      .then((r) => r.stdout.split('\n').filter((l) => l.includes(`pid=${influx.pid},`)))
      .catch(() => [] as string[])
    for (const l of listening) expect(l).toMatch(/127\.0\.0\.1:\d+/)
    const conf = readFileSync(join(influx.dataDir, 'influxdb.conf'), 'utf8')
    expect(conf).toMatch(/reporting-disabled = true/)
    const pid = influx.pid
    const dir = influx.dataDir
    await influx.stop()
    expect(alive(pid)).toBe(false)
    expect(existsSync(dir)).toBe(false)
  })
})

describe('Prometheus 2.42', () => {
  it('serves blocks made by promtool from openmetrics, stops, leaves the given tsdb folder', async () => {
    const work = await mkdtemp(join(tmpdir(), 'prom-test-'))
    try {
      const om = join(work, 'in.om')
      const t0 = Math.floor(Date.now() / 1000) - 3 * 86400
      await writeFile(om, `# TYPE srv_test gauge\nsrv_test{a="x"} 1 ${t0}\nsrv_test{a="x"} 2 ${t0 + 60}\n# EOF\n`)
      const tsdb = join(work, 'tsdb')
      await run('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', om, tsdb], { timeout: 60_000 })
      const prom = await startPrometheus({ tsdbPath: tsdb })
      started.push(prom)
      expect(prom.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const q = await fetch(
        `${prom.url}/api/v1/query?${new URLSearchParams({ query: 'srv_test[10m]', time: String(t0 + 120) })}`
      )
      const body = (await q.json()) as {
        data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> }
      }
      expect(body.data.result).toEqual([
        {
          metric: { __name__: 'srv_test', a: 'x' },
          values: [
            [t0, '1'],
            [t0 + 60, '2']
          ]
        }
      ])
      const pid = prom.pid
      const dir = prom.dataDir
      await prom.stop()
      expect(alive(pid)).toBe(false)
      expect(existsSync(dir)).toBe(false)
      expect(existsSync(tsdb)).toBe(true)
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  })
})
