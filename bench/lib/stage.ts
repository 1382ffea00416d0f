/**
 * What the action sections share: VictoriaMetrics (with the dedup that keeps one sample per
 * series and millisecond, as Mimir does) behind a proxy that adds a 20 ms round trip, our bundle
 * and the sdk floor each served by its own start(port) in a child node process, and the calls
 * Botpress Cloud would make to them.
 */
import type { Agent } from 'node:http'
import { headersFor } from '../../dev/botpress'
import { startIntegrationProcess } from '../../dev/integration-process'
import { startProxy } from '../../dev/proxy'
import { startVictoriaMetrics, type VictoriaMetrics } from '../../dev/servers'
import { post, type Answer } from './http'
import type { SdkFloor } from './sdk-floor'

/** Half of the round trip the proxy adds to every write. */
export const ONE_WAY_DELAY_MS = 10
const BOT_ID = 'bot-bench'

export interface Stage {
  readonly vm: VictoriaMetrics
  /** Botpress headers for our bundle (configuration pointing at the proxy, IDs on) and for the floor. */
  readonly oursHeaders: Record<string, string>
  readonly floorHeaders: Record<string, string>
  /** Our action `type` with `input`; throws unless answered 200. `ids: false` turns the ID labels off. */
  ours(agent: Agent | undefined, type: string, input: unknown, options?: { ids: boolean }): Promise<Answer>
  /** The floor's action writing `lines` (line protocol without timestamps); throws unless answered 200. */
  floor(agent: Agent | undefined, lines: string): Promise<Answer>
  /** The lines our action writes for this input, timestamps cut off: what the floor is given to write. */
  linesOf(type: string, input: unknown, options?: { ids: boolean }): Promise<string>
  /** Where our bundle is served. */
  readonly oursUrl: string
  /** The served processes, for their CPU time. */
  readonly oursPid: number
  readonly floorPid: number
  stop(): Promise<void>
}

/** Calls an integration served at `url` with an action body; throws unless the answer is 200. */
const callAction = async (
  agent: Agent | undefined,
  url: string,
  headers: Record<string, string>,
  body: string
): Promise<Answer> => {
  const answer = await post(agent, `${url}/`, headers, body)
  if (answer.status !== 200) throw new Error(`${url} answered ${answer.status}: ${answer.text.slice(0, 300)}`)
  return answer
}

export const actionBody = (type: string, input: unknown): string => JSON.stringify({ type, input })
export const floorBody = (lines: string): string => actionBody('write', { lines })

const oursHeaders = (writeUrl: string, vm: VictoriaMetrics, includeConversationAndUserIds: boolean) =>
  headersFor(
    'action_triggered',
    { grafanaUrl: writeUrl, grafanaUserId: vm.username, apiKey: vm.password, includeConversationAndUserIds },
    BOT_ID
  )

const withoutTimestamps = (body: string): string =>
  body
    .split('\n')
    .map((line) => line.slice(0, line.lastIndexOf(' ')))
    .join('\n')

export const startStage = async (sdkFloor: SdkFloor): Promise<Stage> => {
  const stops: Array<() => Promise<void>> = []
  const stop = async () => {
    for (const step of stops.reverse()) await step()
  }
  try {
    const vm = await startVictoriaMetrics()
    stops.push(() => vm.stop())
    let lastWrite = ''
    const proxy = await startProxy(vm.url, {
      oneWayDelayMs: ONE_WAY_DELAY_MS,
      onRequest: ({ body }) => {
        lastWrite = body.toString('utf8')
      }
    })
    stops.push(() => proxy.close())
    const oursChild = await startIntegrationProcess()
    stops.push(() => oursChild.stop())
    const floorChild = await startIntegrationProcess({ bundle: sdkFloor.bundle })
    stops.push(() => floorChild.stop())
    const writeUrl = `${proxy.url}/influx/write`
    const headers = { withIds: oursHeaders(writeUrl, vm, true), withoutIds: oursHeaders(writeUrl, vm, false) }
    const floorHeaders = headersFor('action_triggered', { url: writeUrl, user: vm.username, key: vm.password }, BOT_ID)
    const ours: Stage['ours'] = (agent, type, input, options = { ids: true }) =>
      callAction(agent, oursChild.url, options.ids ? headers.withIds : headers.withoutIds, actionBody(type, input))
    return {
      vm,
      oursHeaders: headers.withIds,
      floorHeaders,
      ours,
      floor: (agent, lines) => callAction(agent, floorChild.url, floorHeaders, floorBody(lines)),
      linesOf: async (type, input, options) => {
        await ours(undefined, type, input, options)
        return withoutTimestamps(lastWrite)
      },
      oursUrl: oursChild.url,
      oursPid: oursChild.pid,
      floorPid: floorChild.pid,
      stop
    }
  } catch (error) {
    await stop()
    throw error
  }
}
