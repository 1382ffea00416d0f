/**
 * What the action sections share: VictoriaMetrics (with the dedup that keeps one sample per
 * series and millisecond, as Mimir does) and the Loki stand-in (dev/loki.ts), each behind a proxy
 * that adds a 20 ms round trip, our bundle and the sdk floor each served by its own start(port)
 * in a child node process, and the calls Botpress Cloud would make to them.
 */
import type { Agent } from 'node:http'
import { headersFor } from '../../dev/botpress'
import { startIntegrationProcess } from '../../dev/integration-process'
import { startLoki } from '../../dev/loki'
import { startProxy } from '../../dev/proxy'
import { startVictoriaMetrics, type VictoriaMetrics } from '../../dev/servers'
import { post, type Answer } from './http'
import type { SdkFloor } from './sdk-floor'

/** Half of the round trip the proxy adds to every write. */
export const ONE_WAY_DELAY_MS = 10
const BOT_ID = 'bot-bench'

/**
 * How our bundle is configured for a call. `ids: false` turns the ID labels off (default on);
 * `logs`: 'off' (default), 'on' (the logs endpoint configured) or 'trail' (and "Also log every
 * event" on).
 */
export interface OursOptions {
  readonly ids?: boolean
  readonly logs?: 'off' | 'on' | 'trail'
}

/** A Loki push body cut at its one timestamp: the floor puts its own time between the halves. */
export interface PushParts {
  readonly before: string
  readonly after: string
}

export interface Stage {
  readonly vm: VictoriaMetrics
  /** Botpress headers for our bundle (configuration pointing at the proxy, IDs on) and for the floor. */
  readonly oursHeaders: Record<string, string>
  readonly floorHeaders: Record<string, string>
  /** Our action `type` with `input`; throws unless answered 200. */
  ours(agent: Agent | undefined, type: string, input: unknown, options?: OursOptions): Promise<Answer>
  /** The floor's action writing `lines` (line protocol without timestamps); throws unless answered 200. */
  floor(agent: Agent | undefined, lines: string): Promise<Answer>
  /** The floor's action pushing `parts` to the Loki stand-in; throws unless answered 200. */
  floorPush(agent: Agent | undefined, parts: PushParts): Promise<Answer>
  /** The lines our action writes for this input, timestamps cut off: what the floor is given to write. */
  linesOf(type: string, input: unknown, options?: OursOptions): Promise<string>
  /** The Loki push our action makes for this input, cut at its timestamp: what the floor is given to push. */
  pushOf(type: string, input: unknown, options?: OursOptions): Promise<PushParts>
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

/** A push body cut around its one nanosecond timestamp (the 19 digits of a current time). */
const cutAtTimestamp = (body: string): PushParts => {
  const match = /"\d{19}"/u.exec(body)
  if (match === null) throw new Error(`no timestamp in the push ${body.slice(0, 200)}`)
  return { before: body.slice(0, match.index + 1), after: body.slice(match.index + match[0].length - 1) }
}

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
    /** A proxy adding the round trip in front of `target`, which keeps the body of the last request. */
    const delayed = async (target: string) => {
      const last = { body: '' }
      const proxy = await startProxy(target, {
        oneWayDelayMs: ONE_WAY_DELAY_MS,
        onRequest: ({ body }) => {
          last.body = body.toString('utf8')
        }
      })
      stops.push(() => proxy.close())
      return { url: proxy.url, last }
    }
    const vm = await startVictoriaMetrics()
    stops.push(() => vm.stop())
    const proxy = await delayed(vm.url)
    // One API key for both endpoints, as Grafana Cloud issues it.
    const loki = await startLoki({ auth: { password: vm.password } })
    stops.push(() => loki.stop())
    const lokiProxy = await delayed(loki.url)
    const oursChild = await startIntegrationProcess()
    stops.push(() => oursChild.stop())
    const floorChild = await startIntegrationProcess({ bundle: sdkFloor.bundle })
    stops.push(() => floorChild.stop())
    const writeUrl = `${proxy.url}/influx/write`
    const pushUrl = `${lokiProxy.url}/loki/api/v1/push`
    // Every configuration's headers made once, so no call pays for encoding them.
    const oursHeaders = new Map<string, Record<string, string>>()
    const headersOf = ({ ids = true, logs = 'off' }: OursOptions = {}): Record<string, string> => {
      const key = `${ids} ${logs}`
      let headers = oursHeaders.get(key)
      if (headers === undefined) {
        const configuration = {
          grafanaUrl: writeUrl,
          grafanaUserId: vm.username,
          apiKey: vm.password,
          includeConversationAndUserIds: ids,
          ...(logs === 'off' ? {} : { logsUrl: pushUrl, logsUserId: loki.username, logEveryEvent: logs === 'trail' })
        }
        headers = headersFor('action_triggered', configuration, BOT_ID)
        oursHeaders.set(key, headers)
      }
      return headers
    }
    const floorHeaders = headersFor('action_triggered', { url: writeUrl, user: vm.username, key: vm.password }, BOT_ID)
    const floorPushHeaders = headersFor(
      'action_triggered',
      { url: pushUrl, user: loki.username, key: vm.password },
      BOT_ID
    )
    const ours: Stage['ours'] = (agent, type, input, options) =>
      callAction(agent, oursChild.url, headersOf(options), actionBody(type, input))
    return {
      vm,
      oursHeaders: headersOf(),
      floorHeaders,
      ours,
      floor: (agent, lines) => callAction(agent, floorChild.url, floorHeaders, floorBody(lines)),
      floorPush: (agent, parts) => callAction(agent, floorChild.url, floorPushHeaders, actionBody('push', parts)),
      linesOf: async (type, input, options) => {
        await ours(undefined, type, input, options)
        return withoutTimestamps(proxy.last.body)
      },
      pushOf: async (type, input, options) => {
        await ours(undefined, type, input, options)
        return cutAtTimestamp(lokiProxy.last.body)
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
