/**
 * The sdk floor: the least an integration can do to write a line. Generated on every run with
 * the same CLI (`bp init`, offline), served by the same sdk (this repo's node_modules) and built
 * by the same `bp build` (so the same esbuild options) as ours. Its action `write` appends one
 * timestamp to each line it is given, POSTs them with plain axios (the options of
 * src/client.ts, no retries, the same CommonJS copy of axios) and returns {}. Its action `push`
 * does the same for a Loki push: it puts the time, in nanoseconds, between the two halves of the
 * JSON body it is given and POSTs it.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const REPO = resolve(__dirname, '..', '..')
const BP = join(REPO, 'node_modules', '.bin', 'bp')

const DEFINITION = `import { IntegrationDefinition, z } from '@botpress/sdk'
import { integrationName } from './package.json'

export default new IntegrationDefinition({
  name: integrationName,
  version: '0.0.1',
  readme: 'hub.md',
  icon: 'icon.svg',
  configuration: { schema: z.object({ url: z.string(), user: z.string(), key: z.string() }) },
  actions: {
    write: {
      input: { schema: z.object({ lines: z.string() }) },
      output: { schema: z.object({}) },
    },
    push: {
      input: { schema: z.object({ before: z.string(), after: z.string() }) },
      output: { schema: z.object({}) },
    },
  },
})
`

const IMPLEMENTATION = `import axios = require('axios')
import * as bp from '.botpress'

const http = axios.create({ transformRequest: [(data: string) => data], responseType: 'text', maxRedirects: 0 })

export default new bp.Integration({
  register: async () => {},
  unregister: async () => {},
  actions: {
    write: async ({ ctx, input }) => {
      const { url, user, key } = ctx.configuration as { url: string; user: string; key: string }
      const timestamp = Date.now()
      const body = (input as { lines: string }).lines.split('\\n').map((line) => line + ' ' + timestamp).join('\\n')
      await http.post(url, body, {
        params: { precision: 'ms' },
        auth: { username: user, password: key },
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
        timeout: 10000,
      })
      return {}
    },
    push: async ({ ctx, input }) => {
      const { url, user, key } = ctx.configuration as { url: string; user: string; key: string }
      const { before, after } = input as { before: string; after: string }
      await http.post(url, before + Date.now() + '000000' + after, {
        auth: { username: user, password: key },
        headers: { 'Content-Type': 'application/json' },
        timeout: 10000,
      })
      return {}
    },
  },
  channels: {},
  handler: async () => {},
})
`

export interface SdkFloor {
  /** The built bundle, .botpress/dist/index.js. */
  readonly bundle: string
  remove(): Promise<void>
}

export const buildSdkFloor = async (): Promise<SdkFloor> => {
  const root = await mkdtemp(join(tmpdir(), 'bench-sdk-floor-'))
  const remove = () => rm(root, { recursive: true, force: true })
  try {
    const home = join(root, 'bp-home')
    const env = { ...process.env, BP_TELEMETRY: 'false' }
    await run(BP, ['init', '--type', 'integration', '--name', 'floor', '-y', '--botpressHome', home], {
      cwd: root,
      env,
      timeout: 60_000
    })
    const dir = join(root, 'floor')
    await writeFile(join(dir, 'integration.definition.ts'), DEFINITION)
    await writeFile(join(dir, 'src', 'index.ts'), IMPLEMENTATION)
    await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir')
    await run(BP, ['build', '--botpressHome', home], { cwd: dir, env, timeout: 120_000 })
    return { bundle: join(dir, '.botpress', 'dist', 'index.js'), remove }
  } catch (error) {
    await remove()
    const e = error as { message: string; stdout?: string; stderr?: string }
    throw new Error(`could not generate the sdk floor: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`)
  }
}
